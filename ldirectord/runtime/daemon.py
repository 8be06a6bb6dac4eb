"""Running the daemon: foreground (-d, supervised) or detached, around the same `serve()`.

Daemon mode: log `Starting Linux Director v1.186-ha as daemon`, daemonize (double fork,
setsid, chdir /, std fds on /dev/null), write the pid file, run, remove the pid file if it
is still ours. The invoking process exits with the code the daemon reports on its readiness
pipe: 0 once the pid file is written and the table reconciled. Foreground modes log
`Starting Linux Director v1.186-ha with pid: <pid>` and write no pid file (SPEC Part B §1.6).

Backends: the kernel's (netlink, else ipvsadm) normally; the in-memory table with
`--dry-run`, and in `-d` mode when the kernel has no IPVS (said once, at start), unless
LDIRECTORD_IPVS forces a backend: that one is used or the start fails, `-d` or not. With
the memory table every change is logged as the ipvsadm command it stands for.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ldirectord import COMPAT_VERSION
from ldirectord.config.model import Config
from ldirectord.errors import IPVSError
from ldirectord.invocation import ExitCode
from ldirectord.ipvs import select
from ldirectord.ipvs.backend import Backend
from ldirectord.ipvs.ipvsadm import ipvsadm_command
from ldirectord.ipvs.memory import MemoryBackend
from ldirectord.ipvs.model import Op, Table
from ldirectord.logsetup import log
from ldirectord.runtime import pidfile
from ldirectord.runtime.daemonize import Readiness, daemonize
from ldirectord.runtime.effects import alerts_for
from ldirectord.runtime.owned import Ownership
from ldirectord.runtime.supervisor import Supervisor


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    config_path: str
    name: str
    debug: bool = False
    dry_run: bool = False
    argv: tuple[str, ...] = ()
    pid_path: str | None = None  # None: foreground, no pid file


class PrintingBackend:
    """Wraps a backend and logs every operation as the ipvsadm command it stands for."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name

    async def read(self) -> Table:
        return await self.inner.read()

    async def apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            log.info("Running system(%s)", ipvsadm_command(op))
        await self.inner.apply(ops)

    async def close(self) -> None:
        await self.inner.close()


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def memory_backend() -> Backend:
    return PrintingBackend(MemoryBackend())


async def open_daemon_backend(opts: DaemonOptions) -> Backend:
    """The backend for this run; raises IPVSUnavailable when there is none we may use."""
    if opts.dry_run:
        log.info("Dry run: using an in-memory IPVS table, the kernel is not touched")
        return memory_backend()
    forced = os.environ.get(select.ENV_VAR, "")
    try:
        backend = await select.open_backend()
        await backend.read()
        return backend
    except IPVSError as exc:
        if forced:  # docs/ipvs.md: a forced backend never falls back, -d or not
            raise type(exc)(f"{select.ENV_VAR}={forced}: {_one_line(exc)}; a forced "
                            "backend never falls back", exc.op) from exc
        if not opts.debug:
            raise
        log.info("No usable IPVS (%s): using an in-memory IPVS table", _one_line(exc))
        return memory_backend()


async def serve(config: Config, opts: DaemonOptions, readiness: Readiness) -> int:
    """Run the daemon until it is stopped; returns the exit code."""
    try:
        backend = await open_daemon_backend(opts)
    except IPVSError as exc:
        log.info("Could not open IPVS: %s", _one_line(exc))
        return ExitCode.INVALID
    supervisor = Supervisor(config, backend, on_ready=readiness.ready,
                            alerts=alerts_for(config), cfgname=opts.name, debug=opts.debug)
    supervisor.controller.ownership = Ownership.of_instance(
        opts.name, in_memory=opts.dry_run or opts.debug)
    try:
        return await supervisor.run()
    finally:
        await backend.close()


def start_daemon(config: Config, opts: DaemonOptions) -> int:
    """Start in the foreground (no pid file) or as a daemon; returns the exit code."""
    if opts.pid_path is None:
        log.info("Starting %s with pid: %d", COMPAT_VERSION, os.getpid())
        return asyncio.run(serve(config, opts, Readiness(None)))
    log.info("Starting %s as daemon", COMPAT_VERSION)
    readiness = daemonize()
    try:
        pidfile.write(opts.pid_path)
    except OSError:
        log.info("Can not open %s", opts.pid_path)
        readiness.failed(ExitCode.FAILURE)
        return ExitCode.FAILURE
    code: int = ExitCode.FAILURE
    try:
        code = asyncio.run(serve(config, opts, readiness))
        return code
    finally:
        # The pid file goes before the invoking process hears of a failed start, so that
        # `start` never exits non-zero while a pid file of the dead daemon still exists.
        pidfile.remove_if_ours(opts.pid_path)
        readiness.failed(code)  # no-op once ready() was sent
