"""The pid file `/var/run/ldirectord.<name>.pid` and the original's "is it running" test.

Running means: the file names a pid and `/proc/<pid>/cmdline` contains `ldirectord`
(SPEC Part B §1.3). A file that fails that test is stale. SPEC Part A §3: nobody but the
daemon that wrote a pid file removes it, and the daemon only removes it while it still
holds its own pid.
`LDIRECTORD_RUNDIR` overrides the directory (tests never touch /var/run).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from enum import Enum

DEFAULT_RUNDIR = "/var/run"


def rundir() -> str:
    return os.environ.get("LDIRECTORD_RUNDIR") or DEFAULT_RUNDIR


def pid_path(name: str) -> str:
    """`<rundir>/ldirectord.<name>.pid`."""
    return os.path.join(rundir(), f"ldirectord.{name}.pid")


class PidState(Enum):
    RUNNING = "running"
    STALE = "stale"  # a file exists but names no live ldirectord
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class PidInfo:
    state: PidState
    path: str
    pid: int | None = None


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            text = fh.read(64)
    except OSError:
        return None
    try:
        pid = int(text.strip())
    except ValueError:
        return None
    return pid if pid > 0 else None


def is_ldirectord(pid: int) -> bool:
    """The original's test: /proc/<pid>/cmdline contains `ldirectord`."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"ldirectord" in fh.read()
    except OSError:
        return False


def probe(path: str) -> PidInfo:
    if not os.path.exists(path):
        return PidInfo(PidState.ABSENT, path)
    pid = read_pid(path)
    if pid is not None and is_ldirectord(pid):
        return PidInfo(PidState.RUNNING, path, pid)
    return PidInfo(PidState.STALE, path, pid)


def write(path: str, pid: int | None = None) -> None:
    """Write `pid` (default: ours) and a newline, atomically (a reader never sees it empty)."""
    pid = os.getpid() if pid is None else pid
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{pid}\n")
    os.replace(tmp, path)


def remove_if_ours(path: str, pid: int | None = None) -> bool:
    """Remove the file only if it still names `pid` (default: ours). True if removed."""
    pid = os.getpid() if pid is None else pid
    if read_pid(path) != pid:
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True
