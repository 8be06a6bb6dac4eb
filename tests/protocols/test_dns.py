"""The dns checker against a real dnsmasq (UDP and TCP), and scripted peers for the failure rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
import regex

from checkers.base import CheckSpec, Target
from checkers.dns import MISMATCH, check_dns
from ldirectord.config.model import IpvsProtocol, Service
from ldirectord.config.perlre import ReceivePattern
from tests.checks_doc import documented
from tests.protocols.faults import (
    BLACKHOLE,
    Close,
    Recv,
    Reset,
    Send,
    Stall,
    Step,
    bounded_check,
    garbage,
    no_leaks,
    oversized,
    refused_target,
    refused_udp_target,
    scripted_server,
)
from tests.protocols.servers_dns import (
    ALIAS,
    MISSING,
    V6ONLY,
    V6ONLY_V6,
    WILD,
    WILD_V4,
    WWW,
    WWW_V4,
    WWW_V6,
    Dnsmasq,
    dnsmasq_fixture,  # noqa: F401 (the `dnsmasq` fixture)
    silent,
    udp_peer,
)

HOSTS = ["127.0.0.1", "::1"]
TIMEOUT = 1.0  # negotiatetimeout bounds the whole DNS exchange
BOUND = TIMEOUT + 0.5
TIMED_OUT = "Connection timed out"  # the original's words, kept for the monitor file
PROTOCOLS = [IpvsProtocol.UDP, IpvsProtocol.TCP]


def spec_for(protocol: IpvsProtocol = IpvsProtocol.UDP, **kw: object) -> CheckSpec:
    base = CheckSpec(service=Service.DNS, protocol=protocol, checktimeout=TIMEOUT,
                     negotiatetimeout=TIMEOUT)
    return replace(base, **kw)  # type: ignore[arg-type]


def rx(pattern: str) -> ReceivePattern:
    return regex.compile(pattern.encode())


# (id, request, receive, expect ok, expected detail)
SERVER_ROWS = [
    ("a", f"/{WWW}", r"^10\.1\.2\.3$", True, f"answer {WWW_V4}"),
    ("a-any-answer", f"/{WWW}", None, True, f"answer {WWW_V4}"),
    ("a-no-leading-slash", WWW, "10.1.2", True, f"answer {WWW_V4}"),
    ("a-trailing-dot", f"/{WWW}.", WWW_V4, True, f"answer {WWW_V4}"),
    ("cname-then-a", f"/{ALIAS}", WWW_V4, True, f"answer {WWW_V4}"),
    ("wildcard", f"/{WILD}", "10.9.8", True, f"answer {WILD_V4}"),
    ("aaaa-by-receive", f"/{WWW}", "fd00::7", True, f"answer {WWW_V6}"),
    ("aaaa-only-name", f"/{V6ONLY}", None, True, f"answer {V6ONLY_V6}"),
    ("aaaa-only-name-receive", f"/{V6ONLY}", "^fd00::9$", True, f"answer {V6ONLY_V6}"),
    ("ptr-v4", f"/{WWW_V4}", r"www\.lb\.test", True, f"answer {WWW}"),
    ("ptr-v6", f"/{WWW_V6}", "^www", True, f"answer {WWW}"),
    ("ptr-any-answer", f"/{WWW_V4}", None, True, f"answer {WWW}"),
    ("wrong-receive", f"/{WWW}", r"^10\.9\.9\.9$", False, MISMATCH),
    ("wrong-ptr-receive", f"/{WWW_V4}", "mail", False, MISMATCH),
    ("nxdomain", f"/{MISSING}", None, False, "DNS NXDOMAIN"),
    ("empty-request", "/", None, False, "no name to look up (request is empty)"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=["udp", "tcp"])
@pytest.mark.parametrize(("request_", "receive", "ok", "detail"),
                         [r[1:] for r in SERVER_ROWS], ids=[r[0] for r in SERVER_ROWS])
async def test_against_dnsmasq(dnsmasq: Dnsmasq, host: str, protocol: IpvsProtocol,
                               request_: str, receive: str | None, ok: bool,
                               detail: str) -> None:
    spec = spec_for(protocol, request=request_, receive=rx(receive) if receive else None)
    result = await bounded_check(check_dns, Target(host, dnsmasq.port), spec, bound=BOUND)
    assert result.ok is ok, result
    assert result.detail == detail
    assert result.ok or documented("dns", result.detail), result


@pytest.mark.asyncio
async def test_fwm_virtual_queries_over_udp(dnsmasq: Dnsmasq) -> None:
    """Only protocol tcp selects TCP, as the original (`usevc` iff the protocol is tcp)."""
    spec = spec_for(IpvsProtocol.FWM, request=f"/{WWW}")
    result = await bounded_check(check_dns, Target("127.0.0.1", dnsmasq.port), spec, bound=BOUND)
    assert result.ok, result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_refused(host: str) -> None:
    udp = await bounded_check(check_dns, refused_udp_target(host), spec_for(IpvsProtocol.UDP,
                              request=f"/{WWW}"), bound=BOUND)
    tcp = await bounded_check(check_dns, refused_target(host), spec_for(IpvsProtocol.TCP,
                              request=f"/{WWW}"), bound=BOUND)
    assert (udp.ok, udp.detail) == (False, "connection refused")
    assert (tcp.ok, tcp.detail) == (False, "connection refused")


def _answer(mutate: Callable[[dns.message.Message], None]) -> Callable[[bytes], list[bytes]]:
    """A UDP replier answering each query with an empty NOERROR response after `mutate`."""
    def reply(wire: bytes) -> list[bytes]:
        response = dns.message.make_response(dns.message.from_wire(wire))
        mutate(response)
        return [response.to_wire()]
    return reply


def _truncate(m: dns.message.Message) -> None:
    m.flags |= dns.flags.TC


def _wrong_id(m: dns.message.Message) -> None:
    m.id ^= 0x5555


def _servfail(m: dns.message.Message) -> None:
    m.set_rcode(dns.rcode.SERVFAIL)


def _no_records(m: dns.message.Message) -> None:
    pass


def _with_header(size: int) -> Callable[[bytes], list[bytes]]:
    """A reply that starts like the response (same id) and goes on with `size` junk bytes."""
    return lambda wire: [wire[:2] + b"\x81\x80" + b"\xff" * size]


# (id, replier, expected detail) for misbehaving UDP servers.
UDP_ROWS = [
    ("black-holed", silent, TIMED_OUT),
    ("garbage", lambda _: [bytes(range(256)) * 2], "malformed DNS reply"),
    ("garbage-same-id", _with_header(40), "malformed DNS reply"),
    ("oversized", _with_header(65000), "malformed DNS reply"),
    ("wrong-id", _answer(_wrong_id), "reply does not answer the query"),
    ("servfail", _answer(_servfail), "DNS SERVFAIL"),
    ("nodata", _answer(_no_records), "no answer"),
    # A truncated reply is retried over TCP, where nothing listens on that port.
    ("truncated-then-tcp-refused", _answer(_truncate), "connection refused"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("reply", "detail"), [r[1:] for r in UDP_ROWS],
                         ids=[r[0] for r in UDP_ROWS])
async def test_misbehaving_udp_server(host: str, reply: Callable[[bytes], list[bytes]],
                                      detail: str) -> None:
    async with no_leaks(), udp_peer(reply, host) as target:
        result = await bounded_check(check_dns, target, spec_for(request=f"/{WWW}"), bound=BOUND,
                                     leak_guard=False)
    assert not result.ok
    assert detail in result.detail, result
    assert result.ok or documented("dns", result.detail), result


# (id, steps, expected detail fragment) for misbehaving TCP servers (protocol=tcp).
TCP_ROWS: list[tuple[str, list[Step], str]] = [
    ("black-holed", list(BLACKHOLE), TIMED_OUT),
    ("stalled-after-length", [Recv(), Send(b"\x00\x40"), Stall()], TIMED_OUT),
    ("stalled-mid-reply", [Recv(), Send(b"\x00\x40\x12\x34"), Stall()], TIMED_OUT),
    ("reset", [Recv(), Reset()], "connection reset by server"),
    ("closed", [Recv(), Close()], "connection closed by server"),
    ("closed-mid-reply", [Recv(), Send(b"\x00\x40\x12\x34"), Close()],
     "connection closed by server"),
    ("garbage", [Recv(), Send(b"\x00\x20" + bytes(range(32)))], "malformed DNS reply"),
    ("oversized", [Recv(), oversized()], "malformed DNS reply"),
    ("garbage-stream", [Recv(), garbage()], "malformed DNS reply"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("steps", "detail"), [r[1:] for r in TCP_ROWS],
                         ids=[r[0] for r in TCP_ROWS])
async def test_misbehaving_tcp_server(host: str, steps: list[Step], detail: str) -> None:
    async with no_leaks(), scripted_server(steps, host) as target:
        result = await bounded_check(check_dns, target,
                                     spec_for(IpvsProtocol.TCP, request=f"/{WWW}"), bound=BOUND,
                                     leak_guard=False)
    assert not result.ok
    assert detail in result.detail, result
    assert result.ok or documented("dns", result.detail), result


@pytest.mark.asyncio
async def test_lost_udp_query_is_resent() -> None:
    """The first query is dropped; the resend (after 1 s) is answered within the timeout."""
    seen: list[bytes] = []

    def drop_first(wire: bytes) -> list[bytes]:
        seen.append(wire)
        if len(seen) == 1:
            return []
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                                   WWW_V4))
        return [response.to_wire()]

    spec = spec_for(request=f"/{WWW}", receive=rx(WWW_V4), negotiatetimeout=2.5)
    async with no_leaks(), udp_peer(drop_first) as target:
        result = await bounded_check(check_dns, target, spec, bound=3.0, leak_guard=False)
    assert result.ok, result
    assert len(seen) == 2
    assert seen[0] == seen[1]  # the same query (same id) again
