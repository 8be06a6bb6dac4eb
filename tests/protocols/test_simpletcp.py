"""simpletcp checker against socat line-echo servers (TCP, UDP; IPv4, IPv6) and scripted peers."""

from __future__ import annotations

from dataclasses import replace

import pytest
import regex

from checkers.base import CheckSpec, Result, Target
from checkers.simpletcp import check_simpletcp, request_bytes
from ldirectord.config.model import IpvsProtocol, Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    bounded_check,
)
from tests.protocols.servers_tcp import (
    HOSTS,
    EchoServer,
    echo_server,
    udp_peer,
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
    assert result.ok or documented("simpletcp", result.detail), result


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
    assert result.ok or documented("simpletcp", result.detail), result
    assert peer.received == [b"HELLO\nWORLD\n"]  # sent once: the request may not be idempotent
