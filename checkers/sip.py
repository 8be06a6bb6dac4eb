"""sip check: send SIP OPTIONS over the virtual's protocol, up iff the answer is 200 (SPEC §3.3).

The request is the original's: `OPTIONS sip:<login> SIP/2.0` with Max-Forwards 70,
To/From/Contact `<sip:login>`, a random Call-ID, `CSeq: 63104 OPTIONS`, `Accept:
application/sdp` and `Content-Length: 0`. Two deliberate fixes: the Via header names the
transport really used (the original always wrote UDP) and carries a fresh RFC 3261 branch
(`z9hG4bK...`) per check instead of a fixed one, so a proxy never mistakes two checks for
retransmissions of one transaction.

Decision on the reply: the original required the status line to start with
`SIP/2.0 200 OK`. RFC 3261 §7.2 makes the reason phrase informational only, and servers do
send other phrases (`200 Keepalive`, `200 Ok`), so here the check is up iff the first final
response has status code 200, whatever its reason phrase. Provisional responses (1xx) are
skipped, as RFC 3261 requires of a client; any other final status is down with the status
line as detail.

Over UDP the request is retransmitted inside the timeout as RFC 3261 §17.1.2.2 says
(T1 = 0.5 s doubling up to T2 = 4 s; every T2 once a provisional response came). Over TCP
the reply is read as a byte stream with every line, header block and body capped.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass

from checkers.base import CheckSpec, Down, Result, Target, bounded
from checkers.simpletcp import MAX_DATAGRAM, open_stream, printable, udp_socket
from ldirectord.config.model import IpvsProtocol
from ldirectord.netloc import netloc

T1 = 0.5
T2 = 4.0
MAX_LINE = 8 * 1024
MAX_HEADER = 64 * 1024
MAX_BODY = 64 * 1024
#: Provisional responses skipped before we call the server broken.
MAX_PROVISIONAL = 16

_STATUS = re.compile(rb"SIP/2\.0 ([1-6]\d\d)(?: [^\r\n]*)?")
_CONTENT_LENGTH = re.compile(rb"(?i)(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*")


@dataclass(frozen=True, slots=True)
class Status:
    code: int
    line: str  # the status line, printable, for the log

    @property
    def provisional(self) -> bool:
        return 100 <= self.code < 200


def build_options(login: str, transport: str, local: tuple[str, int], branch: str,
                  call_id: str, tag: str) -> bytes:
    """The OPTIONS request; `local` is our socket's address, used in Via."""
    return (
        f"OPTIONS sip:{login} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {netloc(*local)};rport;branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"To: <sip:{login}>\r\n"
        f"From: <sip:{login}>;tag={tag}\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 63104 OPTIONS\r\n"
        f"Contact: <sip:{login}>\r\n"
        "Accept: application/sdp\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode("utf-8", "surrogateescape")


def new_request(login: str, transport: str, sockname: tuple[str, int]) -> bytes:
    """A fresh request (branch, Call-ID, tag) for one check from our address `sockname`."""
    return build_options(login, transport, sockname,
                         branch="z9hG4bK" + secrets.token_hex(10),
                         call_id=secrets.token_hex(16), tag=secrets.token_hex(4))


def parse_status(line: bytes) -> Status:
    """The status of a response's first line; Down if it is not a SIP status line."""
    line = line.rstrip(b"\r\n")
    if _STATUS.fullmatch(line) is None:
        raise Down(f"not a SIP response: {printable(line, 60)!r}")
    return Status(int(line[8:11]), printable(line))


def datagram_status(datagram: bytes) -> Status:
    """The status of a response that arrived as one UDP datagram."""
    first = datagram.lstrip(b"\r\n").split(b"\n", 1)[0]
    return parse_status(first)


def _local(sockname: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    return sockname[0], sockname[1]


def _verdict(status: Status) -> tuple[bool, str]:
    return status.code == 200, status.line


async def _udp(target: Target, spec: CheckSpec) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    async with udp_socket(target) as sock:
        request = new_request(spec.login, "UDP", _local(sock.getsockname()))
        interval = T1
        provisional = 0
        await loop.sock_sendall(sock, request)
        while True:
            try:
                async with asyncio.timeout(interval):
                    datagram = await loop.sock_recv(sock, MAX_DATAGRAM)
            except TimeoutError:
                await loop.sock_sendall(sock, request)
                interval = T2 if provisional else min(interval * 2, T2)
                continue
            status = datagram_status(datagram)
            if not status.provisional:
                return _verdict(status)
            provisional += 1
            if provisional > MAX_PROVISIONAL:
                return False, f"only provisional responses ({status.line})"
            interval = T2


async def _read_message(reader: asyncio.StreamReader) -> Status:
    """Read one whole response (status, headers, body) from a stream; return its status."""
    line = b"\r\n"
    skipped = 0
    while line in (b"\r\n", b"\n"):  # RFC 3261 §7.5: ignore CRLFs before a start line
        line = await _readline(reader)
        skipped += len(line)
        if not line:
            raise Down("connection closed without a response")
        if skipped > MAX_HEADER:
            raise Down("no status line in the reply")
    status = parse_status(line)
    length = 0
    size = len(line)
    while True:
        header = await _readline(reader)
        if not header:
            raise Down("connection closed inside the response headers")
        size += len(header)
        if size > MAX_HEADER:
            raise Down(f"response headers longer than {MAX_HEADER // 1024} KiB")
        if header in (b"\r\n", b"\n"):
            break
        if (m := _CONTENT_LENGTH.fullmatch(header.rstrip(b"\r\n"))) is not None:
            length = int(m.group(1))
    if length > MAX_BODY:
        raise Down(f"response body of {length} bytes is too long")
    try:
        await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise Down("connection closed inside the response body") from None
    return status


async def _readline(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # the stream's limit: a line longer than MAX_LINE
        raise Down(f"response line longer than {MAX_LINE // 1024} KiB") from None


async def _tcp(target: Target, spec: CheckSpec) -> tuple[bool, str]:
    async with open_stream(target, limit=MAX_LINE) as (reader, writer):
        writer.write(new_request(spec.login, "TCP", _local(writer.get_extra_info("sockname"))))
        await writer.drain()
        for _ in range(MAX_PROVISIONAL + 1):
            status = await _read_message(reader)
            if not status.provisional:
                return _verdict(status)
        return False, f"only provisional responses ({status.line})"


async def check_sip(target: Target, spec: CheckSpec) -> Result:
    """OPTIONS over the virtual's protocol; up iff a final 200 arrives within negotiatetimeout."""
    exchange = _udp if spec.protocol is IpvsProtocol.UDP else _tcp
    return await bounded(spec.negotiatetimeout, exchange(target, spec))
