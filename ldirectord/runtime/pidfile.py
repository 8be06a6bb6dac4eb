"""The pid file `/var/run/ldirectord.<name>.pid` and the "is it running" test.

Running means: the file names a live process whose command line is this program's for
the same instance: `/proc/<pid>/cmdline` runs `ldirectord` (directly, through a Python or
Perl interpreter, or as `python -m ldirectord.cli`) with arguments naming instance
`<name>`. The original only asks for the substring `ldirectord` anywhere in the command
line (SPEC Part B §1.3), so a stale file naming `tail -f /var/log/ldirectord.log` made
`stop` kill the tail. A file that fails the test is stale. SPEC Part A §3: nobody but
the daemon that wrote a pid file removes it, and the daemon only removes it while it
still holds its own pid.

The file is written through a fresh temporary in the same directory (O_EXCL, random
name) and renamed over the pid path, so no symlink planted at either name is followed.
`LDIRECTORD_RUNDIR` overrides the directory (tests never touch /var/run).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ldirectord.invocation import UsageError, parse_argv
from ldirectord.paths import instance_name

DEFAULT_RUNDIR = "/var/run"
PROGRAM = "ldirectord"
#: `python -m <module>` forms that run our command line.
MODULES = ("ldirectord.cli",)
#: Interpreter options that take a separate argument (`-X dev`, `-W error`).
_OPTIONS_WITH_ARGUMENT = ("-X", "-W", "-Q")


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


def _interpreted(argv: Sequence[str]) -> list[str] | None:
    """Our arguments when `argv` is an interpreter running our program, else None."""
    inline = ("-e", "-E") if os.path.basename(argv[0]).startswith("perl") else ("-c",)
    i = 1
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        option = argv[i]
        if option == "-m":
            return list(argv[i + 2:]) if argv[i + 1:i + 2] and argv[i + 1] in MODULES else None
        if option in inline:
            return None  # code given on the command line is not our program
        i += 2 if option in _OPTIONS_WITH_ARGUMENT else 1
    if i < len(argv) and os.path.basename(argv[i]) == PROGRAM:
        return list(argv[i + 1:])
    return None


def is_our_command(argv: Sequence[str], name: str) -> bool:
    """True if `argv` is this program's command line for instance `name`.

    The program is `ldirectord` itself (argv[0]'s basename), or a Python or Perl
    interpreter running a script called `ldirectord` or the module `ldirectord.cli`. Its
    own arguments must be an action line (`[options] [config] action`) whose instance
    name, worked out as the command line does, is `name`.
    """
    if not argv:
        return False
    program = os.path.basename(argv[0])
    if program == PROGRAM:
        args: list[str] | None = list(argv[1:])
    elif program.startswith(("python", "perl")):
        args = _interpreted(argv)
    else:
        args = None
    if args is None:
        return False
    try:
        inv = parse_argv(args)
    except UsageError:
        return False
    return inv.action is not None and instance_name(list(inv.args)) == name


def command_line(pid: int) -> list[str] | None:
    """The argv of process `pid` as /proc holds it; None if it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read(65536)
    except OSError:
        return None
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1]]


def instance_of(path: str) -> str:
    """The instance name a pid file path belongs to: `ldirectord.<name>.pid`."""
    base = os.path.basename(path)
    return base.removeprefix(f"{PROGRAM}.").removesuffix(".pid")


def is_ldirectord(pid: int, name: str) -> bool:
    """True if `pid` is a live ldirectord for instance `name` (see the module's docstring)."""
    argv = command_line(pid)
    return argv is not None and is_our_command(argv, name)


def probe(path: str) -> PidInfo:
    if not os.path.exists(path):
        return PidInfo(PidState.ABSENT, path)
    pid = read_pid(path)
    if pid is not None and is_ldirectord(pid, instance_of(path)):
        return PidInfo(PidState.RUNNING, path, pid)
    return PidInfo(PidState.STALE, path, pid)


def write(path: str, pid: int | None = None) -> None:
    """Write `pid` (default: ours) and a newline, atomically (a reader never sees it empty).

    The temporary is created by mkstemp (O_EXCL|O_NOFOLLOW, a random name) beside the
    pid file and renamed over it: a symlink at the pid path is replaced, never followed.
    """
    pid = os.getpid() if pid is None else pid
    write_atomically(path, f"{pid}\n".encode("ascii"))


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` with `data` through a fresh temporary in its directory.

    The file gets the mode `open()` would give it (0666 less the umask); on failure the
    temporary is removed and the error raised.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it (other threads may create files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def remove_if_ours(path: str, pid: int | None = None) -> bool:
    """Remove the file only if it still names `pid` (default: ours). True if removed."""
    pid = os.getpid() if pid is None else pid
    if read_pid(path) != pid:
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True
