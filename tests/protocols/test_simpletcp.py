"""simpletcp checker against socat line-echo servers (TCP, UDP; IPv4, IPv6) and scripted peers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
import regex

from checkers.base import CheckSpec, Result, Target
from checkers.simpletcp import check_simpletcp, request_bytes
from ldirectord.config.model import IpvsProtocol, Service
from tests.protocols.faults import (
    BLACKHOLE,
    Close,
    Recv,
    Reset,
    Send,
    Stall,
    Step,
    bounded_check,
    cancel_ends_promptly,
    garbage,
    no_leaks,
    oversized,
    refused_target,
    scripted_server,
)
from tests.protocols.servers_tcp import (
    HOSTS,
    EchoServer,
    echo_server,
    udp_peer,
    udp_refused_target,
)

__all__ = ["echo_server"]  # the fixture, imported so pytest finds it

TIMEOUT = 1.5
BASE = CheckSpec(service=Service.SIMPLETCP, request="/HELLO\\nWORLD\\n",
                 receive=regex.compile(rb"^WORLD$"), negotiatetimeout=TIMEOUT)


async def run(target: Target, spec: CheckSpec) -> Result:
    """One check inside the leak guard (scripted peers put the guard around the peer too:
    a stalled peer keeps its end of the connection until the peer is shut down)."""
    return await bounded_check(check_simpletcp, target, spec)


async def _timed(target: Target, spec: CheckSpec) -> Result:
    """One check, held to its negotiatetimeout + 0.5 s (the caller holds the leak guard)."""
    return await bounded_check(check_simpletcp, target, spec, leak_guard=False)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ("/HELLO\\nWORLD", b"HELLO\nWORLD"),
        ("HELLO", b"ELLO"),  # the first character goes whatever it is
        ("/", b""),
        ("/a\\r\\nb", b"a\\r\nb"),  # only \n is an escape, as in the original
    ],
)
def test_request_bytes(request_: str, expected: bytes) -> None:
    assert request_bytes(request_) == expected


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", [IpvsProtocol.TCP, IpvsProtocol.UDP])
@pytest.mark.parametrize(
    ("request_", "receive", "ok", "detail"),
    [
        ("/HELLO\\nWORLD\\n", rb"^WORLD$", True, "received 'WORLD'"),
        ("/HELLO\\nWORLD", rb"L+O", True, "received 'HELLO'"),
        ("/HELLO\\nWORLD", None, True, "received 'HELLO'"),  # empty receive: any line
        ("//HELLO", rb"^/HELLO", True, "received '/HELLO'"),
        ("/HELLO\\nWORLD", rb"NOPE", False, None),  # wrong receive
    ],
)
async def test_echo_server(echo_server: EchoServer, host: str, protocol: IpvsProtocol,
                           request_: str, receive: bytes | None, ok: bool,
                           detail: str | None) -> None:
    spec = replace(BASE, request=request_, protocol=protocol,
                   receive=regex.compile(receive) if receive is not None else None)
    result = await run(Target(host, echo_server.port), spec)
    assert result.ok is ok, result
    if detail is not None:
        assert result.detail == detail
    elif protocol is IpvsProtocol.TCP:
        # cat exits on our half-close, so the mismatch is known without waiting.
        assert result.detail == "receive did not match"
        assert result.elapsed < TIMEOUT
    else:
        # UDP has no end of reply: an unmatched answer is a timeout.
        assert result.detail == f"timeout after {TIMEOUT:g}s"


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("steps", "detail"),
    [
        (BLACKHOLE, f"timeout after {TIMEOUT:g}s"),
        ([Recv(), Send(b"HELLO\nWOR"), Stall()], f"timeout after {TIMEOUT:g}s"),
        ([Recv(), Send(b"HELLO\n"), Reset()], "connection reset"),
        ([Recv(), garbage(), Close()], "receive did not match"),
        ([Recv(), oversized(), Close()], "reply line longer than 64 KiB"),
        ([Recv(), Close()], "no reply"),
        ([Recv(), Send(b"WORLD"), Close()], "received 'WORLD'"),  # last line needs no newline
    ],
    ids=["blackhole", "stall", "reset", "garbage", "oversized", "silent-close", "unterminated"],
)
async def test_tcp_misbehaving_peers(host: str, steps: Sequence[Step], detail: str) -> None:
    async with no_leaks(), scripted_server(steps, host=host) as target:
        result = await _timed(target, BASE)
    assert result.ok is (detail.startswith("received")), result
    assert result.detail == detail


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", [IpvsProtocol.TCP, IpvsProtocol.UDP])
async def test_refused(host: str, protocol: IpvsProtocol) -> None:
    target = refused_target(host) if protocol is IpvsProtocol.TCP else udp_refused_target(host)
    result = await run(target, replace(BASE, protocol=protocol))
    assert not result.ok
    assert result.detail == "connection refused"


def _no_answer(_: bytes) -> list[bytes]:
    return []


def _garbage(_: bytes) -> list[bytes]:
    return [bytes(range(256)) * 4]


def _oversized(_: bytes) -> list[bytes]:
    return [b"x" * 65000]


def _split_answer(_: bytes) -> list[bytes]:
    return [b"HEL", b"LO\nWORLD\n"]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("answer", "ok", "detail"),
    [
        (_no_answer, False, f"timeout after {TIMEOUT:g}s"),
        (_garbage, False, f"timeout after {TIMEOUT:g}s"),
        (_oversized, False, f"timeout after {TIMEOUT:g}s"),
        (_split_answer, True, "received 'WORLD'"),
    ],
    ids=["blackhole", "garbage", "oversized", "two-datagrams"],
)
async def test_udp_peers(host: str, answer: object, ok: bool, detail: str) -> None:
    assert callable(answer)
    async with udp_peer(answer, host=host) as peer:
        result = await run(peer.target, replace(BASE, protocol=IpvsProtocol.UDP))
    assert result.ok is ok, result
    assert result.detail == detail
    assert peer.received == [b"HELLO\nWORLD\n"]  # sent once: the request may not be idempotent


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", [IpvsProtocol.TCP, IpvsProtocol.UDP])
async def test_cancelled_check_releases_everything(host: str, protocol: IpvsProtocol) -> None:
    """The daemon cancels checks on reload and stop: nothing may stay open or running."""
    spec = replace(BASE, protocol=protocol, negotiatetimeout=30)
    async with no_leaks(), scripted_server(BLACKHOLE, host=host) as tcp, \
            udp_peer(lambda _: [], host=host) as udp:
        target = tcp if protocol is IpvsProtocol.TCP else udp.target
        await cancel_ends_promptly(check_simpletcp(target, spec), 0.3, 1.5)
