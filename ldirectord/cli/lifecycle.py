"""The lifecycle actions: start, stop, restart, try-restart, reload, force-reload, status.

Exit codes and streams are the original's (SPEC Part B §1.4), which heartbeat v1 and the
OCF agent read: status 0 (stderr `... is running with pid: N`), 1 (stale pid file: stderr
`ldirectord stale pid file ...`, stdout `... is stopped ...`), 3 (stdout `... is stopped
...`); config file missing 1; config errors 2; usage 255. Differences (SPEC Part A §3):
`status` and `stop` act on the pid file even when the config is broken (the errors go to
stderr), `reload` with a broken config exits 2 without signalling, and no invocation ever
removes a pid file it did not write. `start` returns once the daemon is ready; `stop`
waits (bounded) for the daemon to finish its cleanup; `restart` waits for the pid file to
go, at most RESTART_TIMEOUT seconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from ldirectord.config import load
from ldirectord.config.model import Config
from ldirectord.errors import ConfigError
from ldirectord.invocation import Action, ExitCode, Flag, Invocation
from ldirectord.logsetup import DEFAULT_LOGFILE, configure, dest_for, log
from ldirectord.paths import DEFAULT_CONFIG, instance_name, resolve_config
from ldirectord.runtime import pidfile
from ldirectord.runtime.daemon import DaemonOptions, start_daemon
from ldirectord.runtime.execute import run_children
from ldirectord.runtime.pidfile import PidState
from ldirectord.runtime.realprobes import refused_services

RESTART_TIMEOUT = 60.0
STOP_WAIT = 10.0
#: Bits the daemon always clears from its umask: nothing it creates is writable by others.
UMASK_BITS = 0o022
#: The actions that may start a daemon.
STARTING = frozenset({Action.START, Action.RESTART, Action.TRY_RESTART})


@dataclass(frozen=True, slots=True)
class Request:
    """A lifecycle action with everything resolved from the command line."""

    action: Action
    config_path: str
    name: str  # CFGNAME: the instance name
    debug: bool
    dry_run: bool
    argv: tuple[str, ...]

    @property
    def pid_path(self) -> str:
        return pidfile.pid_path(self.name)


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def load_config(path: str) -> tuple[Config | None, ConfigError | None]:
    """The parsed config, or the error listing every problem."""
    try:
        return load(path), None
    except ConfigError as exc:
        return None, exc


def report_config_error(exc: ConfigError) -> None:
    for message in exc.errors:
        _err(f"Error [{os.getpid()}] reading file {message.path} at line {message.line}: "
             f"{message.message}" if message.line else f"Error [{os.getpid()}]: {message}")


def _wait_gone(path: str, pid: int | None, timeout: float) -> bool:
    """Poll until the daemon is gone (pid file removed or process dead), up to `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if pidfile.probe(path).state is not PidState.RUNNING:
            return True
        if pid is not None and not pidfile.is_ldirectord(pid, pidfile.instance_of(path)):
            return True
        time.sleep(delay)  # a plain CLI process: nothing else runs in it
        delay = min(delay * 2, 0.5)
    return False


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        _err(f"ldirectord: not allowed to signal pid {pid}")
        return False
    return True


def do_status(req: Request, config: Config | None) -> int:
    info = pidfile.probe(req.pid_path)
    if info.state is PidState.RUNNING:
        _err(f"ldirectord for {req.config_path} is running with pid: {info.pid}")
        if config is not None:
            run_children(config.execute, Action.STATUS)
        return ExitCode.OK
    if info.state is PidState.STALE:
        _err(f"ldirectord stale pid file {req.pid_path} for {req.config_path}")
        _out(f"ldirectord is stopped for {req.config_path}")
        return ExitCode.STALE
    _out(f"ldirectord is stopped for {req.config_path}")
    return ExitCode.STOPPED


def do_stop(req: Request) -> int:
    info = pidfile.probe(req.pid_path)
    if info.state is PidState.RUNNING and info.pid is not None:
        if _signal(info.pid, signal.SIGTERM):
            _wait_gone(req.pid_path, info.pid, STOP_WAIT)
    return ExitCode.OK


def do_reload(req: Request) -> int:
    info = pidfile.probe(req.pid_path)
    if info.state is PidState.RUNNING and info.pid is not None:
        return ExitCode.OK if _signal(info.pid, signal.SIGHUP) else ExitCode.FAILURE
    log.info("ldirectord is stopped for %s", req.config_path)
    _out(f"ldirectord is stopped for {req.config_path}")
    return ExitCode.FAILURE


def do_restart(req: Request, config: Config) -> int:
    info = pidfile.probe(req.pid_path)
    if info.state is PidState.RUNNING and info.pid is not None:
        _signal(info.pid, signal.SIGTERM)
        if not _wait_gone(req.pid_path, info.pid, RESTART_TIMEOUT):
            _err(f"ldirectord for {req.config_path} did not stop within "
                 f"{RESTART_TIMEOUT:g} seconds (pid {info.pid})")
            return ExitCode.FAILURE
    elif req.action is Action.TRY_RESTART:
        return ExitCode.OK
    return do_start(req, config)


def do_start(req: Request, config: Config) -> int:
    foreground = req.debug or config.supervised
    if not foreground:
        info = pidfile.probe(req.pid_path)
        if info.state is PidState.RUNNING:
            return ExitCode.OK
        directory = os.path.dirname(req.pid_path) or "."
        if not os.access(directory, os.W_OK):
            _err(f"Can not open {req.pid_path}")
            return ExitCode.FAILURE
    opts = DaemonOptions(
        config_path=req.config_path,
        name=req.name,
        debug=req.debug,
        dry_run=req.dry_run,
        argv=req.argv,
        pid_path=None if foreground else req.pid_path,
    )
    return start_daemon(config, opts)


def _refused(config: Config) -> bool:
    """Print an error for every virtual whose service has no checker; True if any."""
    errors = refused_services(config)
    for text in errors:
        _err(text)
    return bool(errors)


def make_request(inv: Invocation, argv: Sequence[str]) -> Request | ExitCode:
    """Resolve the config file and instance name; an exit code when the file is not found."""
    action = inv.action
    assert action is not None, "main() runs only action lines"
    config_arg = inv.args[0] if len(inv.args) == 2 else DEFAULT_CONFIG
    path = resolve_config(config_arg)
    if path is None:
        _err(f"Config file {config_arg} not found")
        return ExitCode.FAILURE
    return Request(
        action=action,
        config_path=path,
        name=instance_name(list(inv.args)),
        debug=Flag.DEBUG in inv.flags,
        dry_run=Flag.DRY_RUN in inv.flags,
        argv=(sys.argv[0] if sys.argv else "ldirectord", *argv),
    )


def run_action(inv: Invocation, argv: Sequence[str]) -> int:
    made = make_request(inv, argv)
    if isinstance(made, ExitCode):
        return made
    req = made
    if req.action in STARTING:
        # Before the config is read (reading it creates the log file): the daemon's log,
        # pid file and records are never group- or world-writable, whatever the umask.
        os.umask(os.umask(UMASK_BITS) | UMASK_BITS)
    config, error = load_config(req.config_path)
    if error is not None:
        report_config_error(error)
        # Part A §3: status and stop act on the pid file whatever the file says.
        if req.action is Action.STATUS:
            return do_status(req, None)
        if req.action is Action.STOP:
            return do_stop(req)
        return ExitCode.INVALID
    assert config is not None
    for warning in config.warnings:
        _err(f"Warning: {warning}")
    configure(dest_for(config.logfile or DEFAULT_LOGFILE, req.name, debug=req.debug,
                       supervised=config.supervised))
    log.info("Invoking ldirectord invoked as: %s ", " ".join(req.argv))
    match req.action:
        case Action.STATUS:
            return do_status(req, config)
        case Action.STOP:
            return do_stop(req)
        case Action.RELOAD | Action.FORCE_RELOAD:
            return do_reload(req)
        case Action.RESTART | Action.TRY_RESTART:
            if _refused(config):
                return ExitCode.INVALID
            return do_restart(req, config)
        case Action.START:
            if _refused(config):
                return ExitCode.INVALID
            return do_start(req, config)
        case _:
            assert_never(req.action)
