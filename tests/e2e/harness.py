"""Helpers for the end-to-end tests: the daemon as a subprocess, its log, the kernel table.

The daemon is the installed console script beside the test interpreter
(`<venv>/bin/ldirectord`). Its log is read from a file: the `logfile=` of a daemon, or the
redirected stderr (`-d`) or stdout (`supervised=yes`) of a foreground run; `messages()`
strips each format's prefix, so tests compare the exact message texts of SPEC Part B §5.4.
Tables are compared as `ipvsadm -Ln` text without the connection counters, services and
their destinations sorted (the kernel's hash order is not part of the behaviour).
Every wait polls a condition until a deadline; the deadlines are generous because the
tests run under CPU emulation, where one Python start can take seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LDIRECTORD = str(Path(sys.executable).with_name("ldirectord"))
#: Deadline for a daemon to start, reconcile and check everything once (emulated CPU).
START = 180.0
#: Deadline for a change of a real server's health to reach the table and the log.
CHANGE = 60.0
POLL = 0.1
#: Per-test limit (pytest-timeout) for a whole scenario: a dozen daemon and server starts.
E2E_TIMEOUT = 900

VIP = "10.0.0.1"
FALLBACK = "127.0.0.1:80"

_PREFIX = re.compile(r"^\[[^\]]*\] ")

_CONFIG = """\
# The classic two-virtual setup of the sample ldirectord.cf, on the lab's addresses.
checktimeout={timeout}
checkinterval=1
quiescent={quiescent}
cleanstop={cleanstop}
{globals}
virtual={vip}:80
	real={rs1}:80 masq
	real={rs2}:80 masq {http_weight}
	fallback={fallback} gate
	service=http
	scheduler=rr
	protocol=tcp
	checktype=negotiate
	request="index.html"
	receive="Test Page"

virtual={vip}:21
	real={rs1}:21 masq
	real={rs2}:21 masq
	service=ftp
	scheduler=rr
	protocol=tcp
	checktype=negotiate
	login="anonymous"
	passwd="ldirectord@example.com"
	persistent=600
"""


def config_text(rs1: str, rs2: str, *, quiescent: bool = False, cleanstop: bool = True,
                http_weight: int = 1, extra_globals: Sequence[str] = (),
                timeout: int = 2) -> str:
    """The two-virtual config: HTTP :80 with a fallback, FTP :21 persistent 600, rr, masq."""
    return _CONFIG.format(
        vip=VIP, rs1=rs1, rs2=rs2, fallback=FALLBACK, timeout=timeout,
        quiescent="yes" if quiescent else "no", cleanstop="yes" if cleanstop else "no",
        globals="\n".join(extra_globals), http_weight=http_weight)


def daemon_env(rundir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LDIRECTORD_RUNDIR"] = str(rundir)
    # Cache compiled modules: under emulation, compiling the package costs seconds per start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = CHANGE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(POLL)  # polling interval, bounded by the deadline


# -- the kernel table ------------------------------------------------------------------


def ipvsadm_ln() -> str:
    return subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True,
                          check=True).stdout


def table() -> str:
    """`ipvsadm -Ln` without header and counters; services and destinations sorted."""
    services: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in ipvsadm_ln().splitlines()[3:]:
        fields = line.split()
        if line.startswith("  ->"):
            assert current is not None, line
            current.append("  -> " + " ".join(fields[1:4]))
        elif fields:
            current = services.setdefault(" ".join(fields), [])
    return "".join(f"{svc}\n" + "".join(f"{d}\n" for d in sorted(dests))
                   for svc, dests in sorted(services.items()))


def expect_table(lines: str) -> str:
    """Normalise an expected table written like `ipvsadm -Ln` (indentation free)."""
    services: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in lines.strip().splitlines():
        fields = raw.split()
        if fields[0] == "->":
            current.append("  -> " + " ".join(fields[1:4]))
        else:
            current = services.setdefault(" ".join(fields), [])
    return "".join(f"{svc}\n" + "".join(f"{d}\n" for d in sorted(dests))
                   for svc, dests in sorted(services.items()))


def wait_table(expected: str, timeout: float = CHANGE) -> None:
    want = expect_table(expected)
    deadline = time.monotonic() + timeout
    while (got := table()) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"table after {timeout:g}s:\n{got}\nexpected:\n{want}")
        time.sleep(POLL)  # polling interval, bounded by the deadline


def flush() -> None:
    subprocess.run(["ipvsadm", "-C"], check=True)


# -- the log ---------------------------------------------------------------------------


@dataclass
class Log:
    """A log file written by the daemon; a cursor lets a test look only at new lines."""

    path: Path
    mark: int = 0

    def messages(self) -> list[str]:
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [_PREFIX.sub("", line) for line in text.splitlines()]

    def new(self) -> list[str]:
        return self.messages()[self.mark:]

    def advance(self) -> None:
        """Look only at lines written from now on."""
        self.mark = len(self.messages())

    def wait(self, *lines: str, timeout: float = CHANGE) -> list[str]:
        """Wait until every one of `lines` appeared since the mark; returns the new lines."""
        deadline = time.monotonic() + timeout
        while True:
            new = self.new()
            missing = [line for line in lines if line not in new]
            if not missing:
                return new
            if time.monotonic() > deadline:
                raise AssertionError(f"log lines missing after {timeout:g}s: {missing}\n"
                                     f"new lines:\n" + "\n".join(new))
            time.sleep(POLL)  # polling interval, bounded by the deadline


IPVS_WORDS = ("virtual server", "real server", "fallback server")


def ipvs_lines(lines: Sequence[str]) -> list[str]:
    """The lines that report a change to the IPVS table (SPEC Part B §5.4, 'IPVS')."""
    return [line for line in lines if any(w in line for w in IPVS_WORDS)
            and not line.startswith("DEBUG")]


# -- the daemon ------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str],
        timeout: float = START) -> subprocess.CompletedProcess[str]:
    """Run `ldirectord args...` to completion; stdout and stderr captured separately."""
    return subprocess.run([LDIRECTORD, *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


class Foreground:
    """`ldirectord -d <cfg> start` (or a supervised config) with its output in a file."""

    def __init__(self, config: Path, output: Path, env: dict[str, str], *,
                 debug: bool = True) -> None:
        self.output = output
        argv = [LDIRECTORD, *(["-d"] if debug else []), str(config), "start"]
        with output.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self.log = Log(output)

    def terminate(self, timeout: float = CHANGE) -> int:
        """SIGTERM, then wait for the exit (the stop sequence runs in between)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # faulthandler (PYTHONFAULTHANDLER, set in daemon_env) dumps every thread's stack.
            self.proc.send_signal(signal.SIGABRT)
            self.proc.wait(30)
            tail = "\n".join(self.output.read_text(errors="replace").splitlines()[-80:])
            raise AssertionError(f"the daemon did not exit within {timeout:g}s of TERM; "
                                 f"its output ends:\n{tail}") from None

    def kill(self) -> None:
        """For fixtures: make sure nothing is left, whatever the test did."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
