"""Becoming a daemon: double fork, setsid, chdir /, std fds on /dev/null, and a readiness pipe.

The original's invoking process exits 0 right after its first fork, before any work; ours
waits (bounded) until the daemon says it is ready (pid file written, first reconcile
done), so `ldirectord start` returning 0 means the daemon is really there. A daemon that
fails before it is ready sends its exit code down the pipe instead.

Error handling: `daemonize` returns only in the grandchild; the original process calls
`os._exit` with the code the daemon reported (1 if the daemon vanished or took too long).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time

from ldirectord.invocation import ExitCode

#: How long `start` waits for the daemon's readiness before giving up (it keeps running).
READY_TIMEOUT = 60.0


class Readiness:
    """The daemon's end of the readiness pipe: `ready()` once, or `failed(code)`."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def _send(self, byte: int) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, bytes([byte]))
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def ready(self) -> None:
        self._send(ExitCode.OK)

    def failed(self, code: int) -> None:
        self._send(code & 0xFF or ExitCode.FAILURE)


def _wait_parent(rfd: int, timeout: float) -> int:
    """In the invoking process: the code the daemon sends, 1 on EOF or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stderr.write("ldirectord: the daemon did not report ready in time\n")
            return ExitCode.FAILURE
        readable, _, _ = select.select([rfd], [], [], left)
        if readable:
            data = os.read(rfd, 1)
            code = data[0] if data else ExitCode.FAILURE
            if code != ExitCode.OK:
                sys.stderr.write(f"ldirectord: the daemon did not start (exit status {code}); "
                                 "see its log\n")
            return code


def _to_devnull() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def daemonize(timeout: float = READY_TIMEOUT) -> Readiness:
    """Fork twice; return only in the daemon. The original process exits with the daemon's code."""
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    if os.fork() > 0:
        os.close(wfd)
        code = _wait_parent(rfd, timeout)
        os._exit(code)
    os.close(rfd)
    try:
        os.setsid()
    except OSError:
        os.write(wfd, bytes([ExitCode.FAILURE]))
        os._exit(ExitCode.FAILURE)
    if os.fork() > 0:
        os._exit(ExitCode.OK)
    os.chdir("/")
    _to_devnull()
    return Readiness(wfd)
