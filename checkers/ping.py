"""The `ping` check: ICMP echo over IPv4 or IPv6, checkcount attempts each within checktimeout.

An unprivileged ping socket (`SOCK_DGRAM`, `IPPROTO_ICMP[V6]`) is tried first: it works
without root where net.ipv4.ping_group_range allows, and the kernel then picks the echo id
and filters replies for us. Otherwise a raw socket (root) is used, and replies are matched
on id and sequence number. The first reply means up (SPEC Part B §3.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import struct

from checkers.base import CheckSpec, Result, Target, describe_os_error

_ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
_PROTO: dict[int, int] = {socket.AF_INET: socket.IPPROTO_ICMP,
                          socket.AF_INET6: socket.IPPROTO_ICMPV6}
_PAYLOAD = b"ldirectord-ping!"
_sequence = itertools.count(1)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def echo_request(family: int, ident: int, seq: int) -> bytes:
    """An ICMP(v6) echo request; the kernel fills the ICMPv6 checksum itself."""
    kind = _ECHO_REQUEST[family]
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET6:
        return header + _PAYLOAD
    csum = checksum(header + _PAYLOAD)
    return struct.pack("!BBHHH", kind, 0, csum, ident, seq) + _PAYLOAD


def parse_reply(family: int, packet: bytes, raw: bool) -> tuple[int, int, int] | None:
    """(type, id, seq) of an ICMP packet; a raw IPv4 socket also delivers the IP header."""
    if raw and family == socket.AF_INET and packet:
        packet = packet[(packet[0] & 0x0F) * 4:]
    if len(packet) < 8:
        return None
    kind, _code, _csum, ident, seq = struct.unpack("!BBHHH", packet[:8])
    return kind, ident, seq


def _open(family: int) -> tuple[socket.socket, bool]:
    """A ping socket if allowed, else a raw one; the flag says which (True = raw)."""
    try:
        return socket.socket(family, socket.SOCK_DGRAM, _PROTO[family]), False
    except PermissionError:
        return socket.socket(family, socket.SOCK_RAW, _PROTO[family]), True


async def _attempt(sock: socket.socket, raw: bool, family: int, target: Target,
                   limit: float) -> bool:
    loop = asyncio.get_running_loop()
    ident = os.getpid() & 0xFFFF
    seq = next(_sequence) & 0xFFFF
    await loop.sock_sendto(sock, echo_request(family, ident, seq), (target.host, 0))
    async with asyncio.timeout(limit):
        while True:
            packet, addr = await loop.sock_recvfrom(sock, 65535)
            if addr[0] != target.host:
                continue
            parsed = parse_reply(family, packet, raw)
            if parsed is None or parsed[0] != _ECHO_REPLY[family]:
                continue
            # A ping socket rewrites the id to its own port: only raw sockets check it.
            if parsed[2] == seq and (not raw or parsed[1] == ident):
                return True


async def check_ping(target: Target, spec: CheckSpec) -> Result:
    """Up at the first echo reply out of `spec.checkcount` attempts of `spec.checktimeout` each."""
    return await ping(target, spec.checktimeout, spec.checkcount)


async def ping(target: Target, limit: float, count: int) -> Result:
    """Up at the first echo reply out of `count` attempts of `limit` seconds each."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    try:
        sock, raw = _open(family)
    except OSError as exc:
        return Result(False, f"cannot open an ICMP socket: {describe_os_error(exc)}",
                      loop.time() - started)
    try:
        sock.setblocking(False)
        last = "no reply"
        for _ in range(max(1, count)):
            try:
                if await _attempt(sock, raw, family, target, limit):
                    return Result(True, f"echo reply from {target.host}", loop.time() - started)
            except TimeoutError:
                last = f"no echo reply within {limit:g}s"
            except OSError as exc:
                last = describe_os_error(exc)
        return Result(False, f"{last} ({target.host})", loop.time() - started)
    finally:
        with contextlib.suppress(OSError):
            sock.close()
