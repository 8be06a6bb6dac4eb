"""sip checker against Kamailio (UDP and TCP, IPv4 and IPv6) and scripted TCP and UDP peers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from checkers.base import CheckSpec, Result, Target
from checkers.sip import build_options, check_sip
from ldirectord.config.model import IpvsProtocol, Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    bounded_check,
    no_leaks,
)
from tests.protocols.servers_sip import SipServer, sip_server
from tests.protocols.servers_tcp import HOSTS, udp_peer

__all__ = ["sip_server"]  # the fixture, imported so pytest finds it

TIMEOUT = 2.0
BASE = CheckSpec(service=Service.SIP, login="ldirectord@example.org", negotiatetimeout=TIMEOUT)
TIMED_OUT = f"timeout after {TIMEOUT:g}s"


async def run(target: Target, spec: CheckSpec) -> Result:
    """One check, held to its negotiatetimeout + 0.5 s (the caller holds the leak guard)."""
    return await bounded_check(check_sip, target, spec, leak_guard=False)


def test_request_format() -> None:
    request = build_options("ops@example.org", "TCP", ("::1", 5070), branch="z9hG4bKabc",
                            call_id="cid", tag="t1")
    assert request == (
        b"OPTIONS sip:ops@example.org SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP [::1]:5070;rport;branch=z9hG4bKabc\r\n"
        b"Max-Forwards: 70\r\n"
        b"To: <sip:ops@example.org>\r\n"
        b"From: <sip:ops@example.org>;tag=t1\r\n"
        b"Call-ID: cid\r\n"
        b"CSeq: 63104 OPTIONS\r\n"
        b"Contact: <sip:ops@example.org>\r\n"
        b"Accept: application/sdp\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", [IpvsProtocol.UDP, IpvsProtocol.TCP])
@pytest.mark.parametrize(
    ("user", "ok", "detail"),
    [
        ("ldirectord", True, "SIP/2.0 200 OK"),
        ("keepalive", True, "SIP/2.0 200 Keepalive"),  # any reason phrase with 200
        ("slow", True, "SIP/2.0 200 OK"),  # 100 Trying first, skipped
        ("nobody", False, "SIP/2.0 404 Not Found"),  # the server says no
        (None, True, "SIP/2.0 200 OK"),  # empty login: `OPTIONS sip: SIP/2.0`, as the original
    ],
)
async def test_kamailio(sip_server: SipServer, host: str, protocol: IpvsProtocol,
                        user: str | None, ok: bool, detail: str) -> None:
    login = "" if user is None else f"{user}@{f'[{host}]' if ':' in host else host}"
    async with no_leaks():
        result = await run(Target(host, sip_server.port),
                           replace(BASE, login=login, protocol=protocol))
    assert result.ok is ok, result
    assert result.detail == detail
    assert result.ok or documented("sip", result.detail), result


PROVISIONAL = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"


def _nothing(_: bytes) -> list[bytes]:
    return []


def _provisional(_: bytes) -> list[bytes]:
    return [PROVISIONAL]


def _garbage(_: bytes) -> list[bytes]:
    return [bytes(range(256)) * 4]


def _oversized(_: bytes) -> list[bytes]:
    return [b"x" * 65000]


def _trying_then_ok(_: bytes) -> list[bytes]:
    return [PROVISIONAL, b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"]


def _forbidden(_: bytes) -> list[bytes]:
    return [b"SIP/2.0 403 Forbidden\r\n\r\n"]


def _drop_first() -> Callable[[bytes], list[bytes]]:
    """Loses the first request (as a lossy network would) and answers the retransmission."""
    seen: list[bytes] = []

    def answer(request: bytes) -> list[bytes]:
        seen.append(request)
        return [] if len(seen) == 1 else [b"SIP/2.0 200 OK\r\n\r\n"]

    return answer


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("make_answer", "ok", "detail", "requests"),
    [
        # RFC 3261 timer E: sent at 0, 0.5 and 1.5 s within a 2 s timeout.
        (lambda: _nothing, False, TIMED_OUT, 3),
        # After a provisional response, retransmit only every T2 = 4 s.
        (lambda: _provisional, False, TIMED_OUT, 1),
        (lambda: _garbage, False, "not a SIP response: ", 1),
        (lambda: _oversized, False, "not a SIP response: 'xxx", 1),
        (lambda: _trying_then_ok, True, "SIP/2.0 200 OK", 1),
        (lambda: _forbidden, False, "SIP/2.0 403 Forbidden", 1),
        (_drop_first, True, "SIP/2.0 200 OK", 2),
    ],
    ids=["blackhole", "provisional-only", "garbage", "oversized", "1xx-then-200", "403",
         "lost-request"],
)
async def test_udp_peers(host: str, make_answer: Callable[[], Callable[[bytes], list[bytes]]],
                         ok: bool, detail: str, requests: int) -> None:
    spec = replace(BASE, protocol=IpvsProtocol.UDP)
    async with udp_peer(make_answer(), host=host) as peer:
        async with no_leaks():
            result = await run(peer.target, spec)
    assert result.ok is ok, result
    assert result.detail.startswith(detail)
    assert result.ok or documented("sip", result.detail), result
    assert len(peer.received) == requests
    assert len(set(peer.received)) == 1  # retransmissions repeat the same transaction
    first = peer.received[0]
    assert first.startswith(b"OPTIONS sip:ldirectord@example.org SIP/2.0\r\n")
    assert re.search(rb"\r\nVia: SIP/2\.0/UDP \[?[0-9a-f.:]+\]?:\d+;rport;branch=z9hG4bK[0-9a-f]+"
                     rb"\r\n", first)
    assert first.endswith(b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.asyncio
async def test_each_check_is_a_new_transaction() -> None:
    async with udp_peer(_forbidden) as peer:
        for _ in range(2):
            await run(peer.target, replace(BASE, protocol=IpvsProtocol.UDP))
    branches = {re.search(rb"branch=(\S+)", r).group(1) for r in peer.received}  # type: ignore[union-attr]
    call_ids = {re.search(rb"Call-ID: (\S+)", r).group(1) for r in peer.received}  # type: ignore[union-attr]
    assert len(branches) == len(call_ids) == 2
