"""The radius checker against a real FreeRADIUS, and scripted UDP peers for the failure rows."""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import replace

import pytest

from checkers.base import CheckSpec, Target
from checkers.radius import Attr, Code, check_radius, hide_password
from ldirectord.config.model import Service
from tests.checks_doc import documented
from tests.protocols.faults import bounded_check, no_leaks, refused_udp_target
from tests.protocols.servers_dns import silent, udp_peer
from tests.protocols.servers_radius import (
    LONG_PASSWORD,
    LONG_USER,
    PASSWORD,
    SECRET,
    USER,
    WELCOME,
    Radiusd,
    radiusd_fixture,  # noqa: F401 (the `radiusd` fixture)
)

HOSTS = ["127.0.0.1", "::1"]
STEP = 1.0  # negotiatetimeout
WHOLE = 2.0  # checktimeout; the shorter of the two bounds the exchange
BOUND = STEP + 0.5


def spec_for(**kw: object) -> CheckSpec:
    base = CheckSpec(service=Service.RADIUS, login=USER, passwd=PASSWORD, secret=SECRET,
                     checktimeout=WHOLE, negotiatetimeout=STEP)
    return replace(base, **kw)  # type: ignore[arg-type]


# (id, login, passwd, secret, expect ok, expected detail)
SERVER_ROWS = [
    ("accept", USER, PASSWORD, SECRET, True, f"Access-Accept: {WELCOME}"),
    ("accept-long-password", LONG_USER, LONG_PASSWORD, SECRET, True, "Access-Accept"),
    ("wrong-password", USER, "not-it", SECRET, False, "Access-Reject: Denied"),
    ("unknown-user", "nobody", PASSWORD, SECRET, False, "Access-Reject: Denied"),
    ("empty-login", "", "", SECRET, False, "Access-Reject: Denied"),
    # FreeRADIUS drops a request whose Message-Authenticator fails: silence until the timeout.
    ("wrong-secret", USER, PASSWORD, "not-the-secret", False, "timeout after 1s"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("login", "passwd", "secret", "ok", "detail"),
                         [r[1:] for r in SERVER_ROWS], ids=[r[0] for r in SERVER_ROWS])
async def test_against_freeradius(radiusd: Radiusd, host: str, login: str, passwd: str,
                                  secret: str, ok: bool, detail: str) -> None:
    spec = spec_for(login=login, passwd=passwd, secret=secret)
    result = await bounded_check(check_radius, Target(host, radiusd.port), spec, bound=BOUND)
    assert result.ok is ok, result
    assert result.detail == detail
    assert result.ok or documented("radius", result.detail), result


@pytest.mark.asyncio
async def test_checktimeout_bounds_when_shorter(radiusd: Radiusd) -> None:
    spec = spec_for(secret="not-the-secret", checktimeout=0.5, negotiatetimeout=5.0)
    result = await bounded_check(check_radius, Target("127.0.0.1", radiusd.port), spec, bound=1.0)
    assert (result.ok, result.detail) == (False, "timeout after 0.5s")


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_refused(host: str) -> None:
    result = await bounded_check(check_radius, refused_udp_target(host), spec_for(), bound=BOUND)
    assert (result.ok, result.detail) == (False, "connection refused")


def _reply(request: bytes, code: int, *, secret: bytes = SECRET.encode(), attrs: bytes = b"",
           id_xor: int = 0, message_authenticator: bytes | None = None) -> bytes:
    """A reply to `request` signed with `secret`, as a server would build it."""
    identifier = request[1] ^ id_xor
    if message_authenticator is not None:
        attrs += bytes((Attr.MESSAGE_AUTHENTICATOR, 18)) + message_authenticator
    length = 20 + len(attrs)
    head = struct.pack("!BBH", code, identifier, length)
    signature = hashlib.md5(head + request[4:20] + attrs + secret).digest()
    return head + signature + attrs


def replying(make: Callable[[bytes], bytes]) -> Callable[[bytes], list[bytes]]:
    return lambda request: [make(request)]


def _with_good_message_authenticator(request: bytes) -> bytes:
    # RFC 3579: HMAC over the reply with the Request Authenticator and a zeroed attribute;
    # then the Response Authenticator over the final attributes.
    unsigned = _reply(request, Code.ACCESS_ACCEPT, message_authenticator=bytes(16))
    signed_over = unsigned[:4] + request[4:20] + unsigned[20:]
    mac = hmac.digest(SECRET.encode(), signed_over, "md5")
    return _reply(request, Code.ACCESS_ACCEPT, message_authenticator=mac)


# (id, replier, expect ok, expected detail fragment) for scripted UDP servers.
PEER_ROWS = [
    ("accept", replying(lambda r: _reply(r, Code.ACCESS_ACCEPT)), True, "Access-Accept"),
    ("accept-with-message-authenticator", replying(_with_good_message_authenticator), True,
     "Access-Accept"),
    ("black-holed", silent, False, "timeout after 1s"),
    ("challenge", replying(lambda r: _reply(r, Code.ACCESS_CHALLENGE)), False,
     "Access-Challenge"),
    ("reject-with-message",
     replying(lambda r: _reply(r, Code.ACCESS_REJECT, attrs=b"\x12\x06Nope")), False,
     "Access-Reject: Nope"),
    ("forged-with-other-secret",
     replying(lambda r: _reply(r, Code.ACCESS_ACCEPT, secret=b"other")), False,
     "Response Authenticator check (wrong secret?)"),
    ("bad-message-authenticator",
     replying(lambda r: _reply(r, Code.ACCESS_ACCEPT, message_authenticator=bytes(16))),
     False, "Message-Authenticator check"),
    ("wrong-identifier", replying(lambda r: _reply(r, Code.ACCESS_ACCEPT, id_xor=0x01)), False,
     "RADIUS reply to another request"),
    ("unknown-code", replying(lambda r: _reply(r, 42)), False, "unexpected RADIUS code 42"),
    ("echoed-request", lambda r: [r], False, "unexpected RADIUS code 1"),
    ("garbage", lambda _: [bytes(range(256)) * 2], False, "malformed RADIUS reply"),
    ("too-short", lambda r: [r[:10]], False, "malformed RADIUS reply (too short)"),
    ("bad-attribute", replying(lambda r: _reply(r, Code.ACCESS_ACCEPT, attrs=b"\x12\x40ab")),
     False, "malformed RADIUS reply (bad attribute)"),
    ("oversized", lambda r: [r[:2] + struct.pack("!H", 60000) + bytes(59996)], False,
     "malformed RADIUS reply (bad length)"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("reply", "ok", "detail"), [r[1:] for r in PEER_ROWS],
                         ids=[r[0] for r in PEER_ROWS])
async def test_scripted_server(host: str, reply: Callable[[bytes], list[bytes]], ok: bool,
                               detail: str) -> None:
    async with no_leaks(), udp_peer(reply, host) as target:
        result = await bounded_check(check_radius, target, spec_for(), bound=BOUND,
                                     leak_guard=False)
    assert result.ok is ok, result
    assert detail in result.detail, result
    assert result.ok or documented("radius", result.detail), result


@pytest.mark.asyncio
async def test_lost_request_is_resent() -> None:
    """The first request is dropped; the resend (after 1 s, identical) gets the Accept."""
    seen: list[bytes] = []

    def drop_first(request: bytes) -> list[bytes]:
        seen.append(request)
        return [] if len(seen) == 1 else [_reply(request, Code.ACCESS_ACCEPT)]

    async with no_leaks(), udp_peer(drop_first) as target:
        result = await bounded_check(check_radius, target, spec_for(negotiatetimeout=2.5),
                                     bound=3.0, leak_guard=False)
    assert result.ok, result
    assert len(seen) == 2
    assert seen[0] == seen[1]


def test_password_hiding_matches_rfc2865() -> None:
    """Hiding is its own inverse under the same keys (what a server does to read it)."""
    authenticator = bytes(range(16))
    secret = b"xyzzy5461"
    for password in (b"", b"arctangent", b"x" * 16, b"y" * 17, LONG_PASSWORD.encode()):
        hidden = hide_password(password, secret, authenticator)
        assert len(hidden) == max(16, -(-len(password) // 16) * 16)
        previous, plain = authenticator, b""
        for i in range(0, len(hidden), 16):
            key = hashlib.md5(secret + previous).digest()
            plain += bytes(a ^ b for a, b in zip(hidden[i:i + 16], key, strict=True))
            previous = hidden[i:i + 16]
        assert plain.rstrip(b"\0") == password
