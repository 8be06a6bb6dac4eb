"""sip checker against Kamailio (UDP and TCP, IPv4 and IPv6) and scripted TCP and UDP peers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from checkers.base import CheckSpec, Result, Target
from checkers.sip import build_options, check_sip
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
from tests.protocols.servers_sip import SipServer, sip_server
from tests.protocols.servers_tcp import HOSTS, udp_peer, udp_refused_target

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


PROVISIONAL = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("steps", "ok", "detail"),
    [
        (BLACKHOLE, False, TIMED_OUT),
        ([Recv(), Send(PROVISIONAL), Stall()], False, TIMED_OUT),
        ([Recv(), Send(b"SIP/2.0 200 OK\r\nVia: x\r\n"), Stall()], False, TIMED_OUT),
        ([Recv(), Reset()], False, "connection reset"),
        ([Recv(), Close()], False, "connection closed without a response"),
        ([Recv(), garbage(), Close()], False, "not a SIP response: "),
        ([Recv(), oversized(b"SIP/2.0 200 OK\r\nX: "), Close()], False,
         "response line longer than 8 KiB"),
        ([Recv(), Send(b"SIP/2.0 200 OK\r\n" + b"X: y\r\n" * 20000), Close()], False,
         "response headers longer than 64 KiB"),
        ([Recv(), Send(b"SIP/2.0 200 OK\r\nl: 99999999\r\n\r\n"), Close()], False,
         "response body of 99999999 bytes is too long"),
        ([Recv(), Send(PROVISIONAL * 40), Close()], False,
         "only provisional responses (SIP/2.0 100 Trying)"),
        ([Recv(), Send(b"SIP/2.0 503 Service Unavailable\r\n\r\n"), Close()], False,
         "SIP/2.0 503 Service Unavailable"),
        ([Recv(), Send(b"\r\n" + PROVISIONAL + b"SIP/2.0 180 Ringing\r\nContent-Length: 4"
                       b"\r\n\r\nbodySIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"), Stall()],
         True, "SIP/2.0 200 OK"),
    ],
    ids=["blackhole", "stall-after-100", "stall-in-headers", "reset", "silent-close",
         "garbage", "oversized-line", "oversized-headers", "oversized-body", "endless-1xx",
         "503", "1xx-then-200"],
)
async def test_tcp_peers(host: str, steps: Sequence[Step], ok: bool, detail: str) -> None:
    async with no_leaks(), scripted_server(steps, host=host) as target:
        result = await run(target, BASE)
    assert result.ok is ok, result
    assert result.detail.startswith(detail)


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


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", [IpvsProtocol.TCP, IpvsProtocol.UDP])
async def test_refused(host: str, protocol: IpvsProtocol) -> None:
    target = refused_target(host) if protocol is IpvsProtocol.TCP else udp_refused_target(host)
    async with no_leaks():
        result = await run(target, replace(BASE, protocol=protocol))
    assert not result.ok
    assert result.detail == "connection refused"


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", [IpvsProtocol.TCP, IpvsProtocol.UDP])
async def test_cancelled_check_releases_everything(host: str, protocol: IpvsProtocol) -> None:
    """The daemon cancels checks on reload and stop: nothing may stay open or running."""
    spec = replace(BASE, protocol=protocol, negotiatetimeout=30)
    async with no_leaks(), scripted_server(BLACKHOLE, host=host) as tcp, \
            udp_peer(lambda _: [], host=host) as udp:
        target = tcp if protocol is IpvsProtocol.TCP else udp.target
        await cancel_ends_promptly(check_sip(target, spec), 0.3, 1.5)
