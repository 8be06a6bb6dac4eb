"""Misbehaving peers for the checker failure matrix: scripted servers and a refused port.

Real protocol servers (nginx, dovecot, slapd, ...) cover the "up", "wrong receive" and
"wrong credentials" rows. The rows no real server produces on demand (black-holed, stalled
or reset mid-dialog, garbage, oversized replies, stalled TLS handshake) come from these
scripted peers, which speak just enough of a protocol to reach the point of failure.

    async with scripted_server([Send(b"+OK ready\r\n"), RecvLine(), Reset()]) as target:
        result = await check_pop(target, spec)

`bounded_check` runs one check and holds it to its time bound (`Row.run` does so against
a scripted peer); `cancel_ends_promptly` cancels a check as a reload or stop does.
A `Row` is one line of the failure matrix every checker shares (refused, misbehaving peer,
time bound): test_fault_table.py holds the table, one row per service and peer behaviour.
Time bounds do not count the time the event loop's thread spent ready to run but waiting
for a CPU (`cpu_wait`): that is the machine's load, not the check's doing, and a loaded
machine must not fail a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checkers.base import Checker, CheckSpec, Result, Target


@dataclass(frozen=True)
class Send:
    """Send these bytes."""

    data: bytes


@dataclass(frozen=True)
class RecvLine:
    """Read one line (up to 64 KiB) from the client; stop the script if the client closes."""


@dataclass(frozen=True)
class Recv:
    """Read up to `n` bytes (at least one) from the client."""

    n: int = 65536


@dataclass(frozen=True)
class Stall:
    """Say nothing more and keep the connection open until the client gives up."""


@dataclass(frozen=True)
class Reset:
    """Abort the connection with a TCP RST."""


@dataclass(frozen=True)
class Close:
    """Close the connection cleanly (FIN)."""


Step = Send | RecvLine | Recv | Stall | Reset | Close

#: What a black-holed server does: accept and never answer.
BLACKHOLE: tuple[Step, ...] = (Stall(),)
#: The timeout of a check against a real server that answers: it answers at once (or after
#: its own delay, such as dovecot's two seconds before refusing a password), so the
#: timeout only keeps a loaded machine, which may leave a TLS handshake or a login
#: process waiting for a CPU for seconds, from failing a check that is up.
REAL_SERVER_TIMEOUT = 20.0


def oversized(prefix: bytes = b"", size: int = 8 * 1024 * 1024) -> Send:
    """A reply far larger than any checker should read (default 8 MiB)."""
    return Send(prefix + b"x" * size)


def garbage(size: int = 512) -> Send:
    """Bytes that are no protocol's greeting."""
    return Send(bytes(range(256)) * (size // 256) + b"\r\n")


async def _run(steps: Sequence[Step], reader: asyncio.StreamReader,
               writer: asyncio.StreamWriter, closed: asyncio.Event) -> None:
    try:
        for step in steps:
            match step:
                case Send(data):
                    writer.write(data)
                    await writer.drain()
                case RecvLine():
                    line = await reader.readline()
                    if not line:
                        return
                case Recv(n):
                    if not await reader.read(n):
                        return
                case Stall():
                    await closed.wait()
                    return
                case Reset():
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                case Close():
                    break
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        if not writer.transport.is_closing():
            writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def scripted_server(steps: Sequence[Step], host: str = "127.0.0.1") -> AsyncIterator[Target]:
    """Serve `steps` to every client on an ephemeral port of `host`; yields the Target.

    On exit the listener and every open connection are closed, so stalled clients see EOF.
    `stats["connections"]` on the yielded target's server is not exposed: tests judge the
    checker's Result, not the peer.
    """
    done = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await _run(steps, reader, writer, done)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(handle, host, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Target(host, port)
    finally:
        done.set()
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def refused_target(host: str = "127.0.0.1") -> Target:
    """A port on `host` with nothing listening (connecting is refused)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return Target(host, port)


def refused_udp_target(host: str = "127.0.0.1") -> Target:
    """A UDP port on `host` with nothing bound (datagrams draw ICMP port unreachable)."""
    return Target(host, free_port(host, socket.SOCK_DGRAM))


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free a moment ago, for starting a real server program on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _open_sockets() -> set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


@contextlib.asynccontextmanager
async def no_leaks(settle: float = 2.0) -> AsyncIterator[None]:
    """Fail if the body leaves a socket open or a task running that it did not find.

    Sockets opened before the block (servers, fixtures) are ignored. Closing is sometimes
    completed by the event loop a few iterations later, so both are polled until `settle`
    seconds have passed before failing.
    """
    sockets_before = _open_sockets()
    tasks_before = set(asyncio.all_tasks())
    yield
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while True:
        new_sockets = _open_sockets() - sockets_before
        new_tasks = {t for t in asyncio.all_tasks() - tasks_before
                     if t is not asyncio.current_task() and not t.done()}
        if not new_sockets and not new_tasks:
            return
        if loop.time() > deadline:
            raise AssertionError(f"leaked sockets {sorted(new_sockets)} tasks {new_tasks}")
        await asyncio.sleep(0.01)


def cpu_wait() -> float:
    """Seconds the calling thread has been ready to run but waiting for a CPU (Linux
    schedstat's run delay), 0.0 where the kernel does not say. A lock or a socket wait is
    not counted, and neither is time on a CPU: only what the machine's load took."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


async def bounded_check(checker: Checker, target: Target, spec: CheckSpec, *,
                        bound: float | None = None, leak_guard: bool = True) -> Result:
    """Run one check, by default inside the leak guard; assert it ended within `bound`
    seconds (default: its negotiatetimeout + 0.5 s) plus the `cpu_wait` meanwhile, by its own
    clock and the wall's, with a one-line detail. Checks against a scripted peer put the guard
    around the peer too (its side of a stalled connection lives until the peer is shut
    down): `leak_guard=False`."""
    loop = asyncio.get_running_loop()
    async with no_leaks() if leak_guard else contextlib.nullcontext():
        waited = cpu_wait()
        start = loop.time()
        result = await checker(target, spec)
        wall = loop.time() - start
        lost = cpu_wait() - waited
    limit = (spec.negotiatetimeout + 0.5 if bound is None else bound) + lost
    assert isinstance(result, Result)
    assert result.elapsed <= limit, result
    assert wall <= limit, (wall, result)
    assert "\n" not in result.detail and result.detail, result
    return result


async def cancel_ends_promptly(check: Awaitable[Result], after: float, within: float) -> None:
    """Cancel `check` after `after` seconds, as a reload or stop does: it must be over
    (cancelled, not finished) within `within` seconds of its start, plus the `cpu_wait`."""
    loop = asyncio.get_running_loop()
    waited = cpu_wait()
    start = loop.time()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(check, after)
    assert loop.time() - start < within + (cpu_wait() - waited)


@dataclass(frozen=True)
class Refused:
    """Nothing listens: a TCP connect is refused, a UDP datagram draws port unreachable."""

    udp: bool = False


@dataclass(frozen=True)
class Row:
    """One row of the failure matrix: `checker` with `spec` against `peer` (a script every
    client gets, or nobody listening) ends `ok` with a detail that starts with `detail`
    (is `detail`, if `whole`), within its time bound (`bound`, as bounded_check's)."""

    service: str  # as docs/checks.md names the check
    id: str
    checker: Checker
    spec: CheckSpec
    peer: Sequence[Step] | Refused
    detail: str
    ok: bool = False
    whole: bool = False
    bound: float | None = None

    async def run(self, host: str) -> Result:
        """The check against this row's peer on `host`, inside the leak guard."""
        if isinstance(self.peer, Refused):
            target = refused_udp_target(host) if self.peer.udp else refused_target(host)
            return await bounded_check(self.checker, target, self.spec, bound=self.bound)
        async with no_leaks(), scripted_server(self.peer, host) as target:
            return await bounded_check(self.checker, target, self.spec, bound=self.bound,
                                       leak_guard=False)

    def judge(self, result: Result) -> None:
        """Assert that `result` is what this row expects."""
        assert result.ok is self.ok, result
        if self.whole:
            assert result.detail == self.detail, result
        else:
            assert result.detail.startswith(self.detail), result


def rows(service: str, checker: Checker, spec: CheckSpec, *cases: tuple[Any, ...],
         whole: bool = False, bound: float | None = None) -> list[Row]:
    """The rows of one service: each case is (name, peer, detail[, ok[, spec]])."""
    out = []
    for name, peer, detail, *rest in cases:
        ok = rest[0] if rest else False
        own_spec = rest[1] if len(rest) > 1 else spec
        out.append(Row(service, f"{service}-{name}", checker, own_spec, peer, detail, ok, whole,
                       bound))
    return out
