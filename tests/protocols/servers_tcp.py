"""Real server programs for the simpletcp, sip and sql checker tests, and the plumbing to run them.

`Daemon` starts a program on loopback with a throwaway directory and stops it (and waits
for it) at the end; `wait_until` polls a readiness condition with a deadline. The simpletcp
server is socat running `cat` for each client: a line echo server over TCP and UDP on
127.0.0.1 and ::1, which exercises exactly the bytes the check sends (first character
dropped, literal backslash-n turned into newlines) and its half-close (cat ends on EOF).
`udp_peer` is the scripted UDP counterpart of faults.scripted_server (black hole, garbage,
provisional-only answers), for the UDP rows no real server produces on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from checkers.base import Target
from tests.protocols.faults import free_port

HOSTS = ("127.0.0.1", "::1")


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 30.0,
               proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `ready` until it is true; fail after `timeout` s or if `proc` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout}s")
        time.sleep(0.05)


def tcp_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def udp_echoes(host: str, port: int) -> bool:
    """Whether a datagram sent to host:port comes back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.connect((host, port))
            s.send(b"ready?\n")
            return s.recv(100) == b"ready?\n"
        except OSError:
            return False


def need(program: str) -> str:
    """The path of `program`, or skip (tests/run.sh installs it from tests/deps/apt-f2.txt)."""
    path = shutil.which(program) or next(
        (p for d in ("/usr/sbin", "/sbin") if os.access(p := f"{d}/{program}", os.X_OK)), None)
    if path is None:
        pytest.skip(f"{program} is not installed (see tests/deps/apt-f2.txt)")
    return path


@dataclass
class Daemon:
    """A started server process; `stop()` ends it and waits."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    @classmethod
    def start(cls, name: str, argv: Sequence[str], log: Path, *,
              stop_signal: int = signal.SIGTERM, user: str | None = None,
              cwd: Path | None = None) -> Daemon:
        with log.open("ab") as out:
            proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=cwd, user=user,
                                    group=user, start_new_session=True)
        return cls(name, proc, log, stop_signal)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        # Children left behind (socat's per-client processes) share the session's group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def _echoing(host: str, port: int) -> bool:
    return tcp_open(host, port) and udp_echoes(host, port)


@dataclass(frozen=True)
class EchoServer:
    """socat echo servers on one port number, TCP and UDP, on both loopback addresses."""

    port: int


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoServer]:
    socat = need("socat")
    cat = shutil.which("cat") or "/bin/cat"
    tmp = tmp_path_factory.mktemp("socat")
    port = free_port()
    daemons: list[Daemon] = []
    try:
        for host in HOSTS:
            v = "6" if ":" in host else "4"
            bind = f"[{host}]" if ":" in host else host
            # One `cat` per TCP client (fork); one per UDP peer, echoing its datagrams.
            listeners = (f"TCP{v}-LISTEN:{port},bind={bind},reuseaddr,fork",
                         f"UDP{v}-RECVFROM:{port},bind={bind},reuseaddr,fork")
            daemons.extend(Daemon.start("socat", [socat, "-T", "5", listener, f"EXEC:{cat}"],
                                        tmp / "socat.log") for listener in listeners)
        for host in HOSTS:
            wait_until(functools.partial(_echoing, host, port), f"socat on {host}:{port}",
                       proc=daemons[0].proc)
        yield EchoServer(port)
    finally:
        for d in daemons:
            d.stop()


@dataclass
class UdpPeer:
    """A scripted UDP peer: where it listens and every datagram it received."""

    target: Target
    received: list[bytes]


@contextlib.asynccontextmanager
async def udp_peer(answer: Callable[[bytes], Sequence[bytes]],
                   host: str = "127.0.0.1") -> AsyncIterator[UdpPeer]:
    """Answer each datagram with the datagrams `answer(request)` returns (none: a black hole)."""
    loop = asyncio.get_running_loop()
    received: list[bytes] = []

    class Script(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
            received.append(data)
            for reply in answer(data):
                self.transport.sendto(reply, addr)

    transport, _ = await loop.create_datagram_endpoint(Script, local_addr=(host, 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        yield UdpPeer(Target(host, port), received)
    finally:
        transport.close()
