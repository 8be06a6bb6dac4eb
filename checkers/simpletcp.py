"""simpletcp check: send a fixed request, read reply lines until one matches `receive` (SPEC §3.3).

The request is the configured one minus its first character (the `/` the config layer
prepends) with every literal backslash-n turned into a newline. Over TCP the write side is
half-closed after sending; over UDP (UDP virtuals) the request is one datagram and every
datagram that comes back is split into lines. The check is up iff a line matches; an empty
`receive` matches any line, which is what the original's empty Perl pattern does in
practice (SPEC §3.4). A server that closes without a matching line is down. Lines are
matched as they arrive, off the event loop (checkers/match.py), within the same
`negotiatetimeout` that bounds the exchange.

The small socket helpers here (`open_stream`, `udp_socket`) are shared with the SIP check,
which has the same two transports.

Error handling: every failure the server can cause becomes `Result(ok=False)`.
Cancellation: sockets are closed in `finally` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

from checkers.base import CheckSpec, Result, Target, bounded
from checkers.match import search
from ldirectord.config.model import IpvsProtocol

#: Longest reply line we read; a longer one is a garbage or hostile reply.
MAX_LINE = 64 * 1024
#: Total reply bytes read before giving up on finding a matching line.
MAX_REPLY = 1024 * 1024
#: Largest UDP payload (IPv4: 65507; IPv6 jumbograms aside, no larger datagram arrives).
MAX_DATAGRAM = 65535


def request_bytes(request: str) -> bytes:
    """What the original sends: `request` minus its first character, literal `\\n` as newline."""
    return request[1:].replace("\\n", "\n").encode("utf-8", "surrogateescape")


def printable(data: bytes, limit: int = 80) -> str:
    """A reply fragment made safe for a one-line log detail."""
    text = data.decode("utf-8", "replace").strip()
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.asynccontextmanager
async def open_stream(
    target: Target, *, limit: int = MAX_LINE
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A TCP connection to `target`; aborted (not lingering) if the body fails or is cancelled."""
    reader, writer = await asyncio.open_connection(target.host, target.port, limit=limit)
    try:
        yield reader, writer
    except BaseException:
        # A stalled peer may never drain our buffer: a graceful close could wait forever.
        writer.transport.abort()
        raise
    else:
        writer.close()
    finally:
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def udp_socket(target: Target) -> AsyncIterator[socket.socket]:
    """A non-blocking UDP socket connected to `target` (so ICMP errors reach us)."""
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (target.host, target.port))
        yield sock
    finally:
        sock.close()


class _Lines:
    """Matches reply lines against `receive` by the check's deadline."""

    def __init__(self, spec: CheckSpec, deadline: float) -> None:
        self.spec = spec
        self.deadline = deadline

    async def match(self, line: bytes) -> bool:
        receive = self.spec.receive
        if receive is None:
            return True
        return await search(receive, line, self.deadline, self.spec.negotiatetimeout)


async def _tcp(target: Target, lines: _Lines, payload: bytes) -> tuple[bool, str]:
    async with open_stream(target) as (reader, writer):
        writer.write(payload)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        seen = 0
        while seen < MAX_REPLY:
            try:
                line = await reader.readline()
            except ValueError:  # StreamReader's "separator not found, chunk exceed the limit"
                return False, f"reply line longer than {MAX_LINE // 1024} KiB"
            if not line:
                return False, "receive did not match" if seen else "no reply"
            seen += len(line)
            if await lines.match(line):
                return True, f"received {printable(line)!r}"
        return False, f"receive did not match in the first {MAX_REPLY // 1024} KiB"


async def _udp(target: Target, lines: _Lines, payload: bytes) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    async with udp_socket(target) as sock:
        # Sent once, as the original does: the request may not be idempotent.
        await loop.sock_sendall(sock, payload)
        seen = 0
        while seen < MAX_REPLY:
            datagram = await loop.sock_recv(sock, MAX_DATAGRAM)
            seen += len(datagram) or 1
            for line in datagram.splitlines(keepends=True):
                if await lines.match(line):
                    return True, f"received {printable(line)!r}"
        return False, f"receive did not match in the first {MAX_REPLY // 1024} KiB"


async def check_simpletcp(target: Target, spec: CheckSpec) -> Result:
    """Send the request, up iff a reply line matches `receive`; bounded by negotiatetimeout."""
    deadline = asyncio.get_running_loop().time() + spec.negotiatetimeout
    exchange = _udp if spec.protocol is IpvsProtocol.UDP else _tcp
    lines = _Lines(spec, deadline)
    return await bounded(spec.negotiatetimeout,
                         exchange(target, lines, request_bytes(spec.request)))
