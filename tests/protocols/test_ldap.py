"""The ldap and ldaps checkers against a real slapd, and scripted peers for the failure rows."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
import regex
import trustme

from checkers.base import Checker, CheckSpec, Target
from checkers.ldap import MAX_MESSAGE, check_ldap, check_ldaps
from checkers.tls import TlsClient, use_client
from ldirectord.config.model import Service
from ldirectord.config.perlre import ReceivePattern
from tests.checks_doc import documented
from tests.protocols.faults import (
    BLACKHOLE,
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
    scripted_server,
)
from tests.protocols.servers_ldap import (
    BIND_DN,
    BIND_PW,
    PEOPLE,
    SUFFIX,
    Slapd,
    slapd_fixture,  # noqa: F401 (the `slapd` fixture)
)

HOSTS = ["127.0.0.1", "::1"]
STEP = 1.0  # negotiatetimeout: bounds each step
WHOLE = 2.0  # checktimeout: bounds the whole check
BOUND = STEP + 0.5
KINDS: list[tuple[Service, Checker]] = [(Service.LDAP, check_ldap), (Service.LDAPS, check_ldaps)]

#: A successful BindResponse to message 1 (resultCode 0, empty matchedDN and message).
BIND_OK = bytes.fromhex("300c02010161070a010004000400")


def ber(tag: int, content: bytes) -> bytes:
    """One BER element (definite length, long form when needed)."""
    if len(content) < 128:
        return bytes((tag, len(content))) + content
    size = len(content).to_bytes(3, "big")
    return bytes((tag, 0x83)) + size + content


#: Replies to search message 2: an entry with this DN, a referral, success.
ENTRY = ber(0x30, b"\x02\x01\x02" + ber(0x64, ber(0x04, SUFFIX.encode()) + ber(0x30, b"")))
REFERENCE = ber(0x30, b"\x02\x01\x02" + ber(0x73, ber(0x04, b"ldap://elsewhere/")))
DONE = ber(0x30, b"\x02\x01\x02" + ber(0x65, b"\x0a\x01\x00\x04\x00\x04\x00"))
#: An unsolicited notice of disconnection (message 0, extendedResp, unavailable).
NOTICE = ber(0x30, b"\x02\x01\x00" + ber(0x78, b"\x0a\x01\x34\x04\x00"
                                         + ber(0x04, b"going away")
                                         + ber(0x8a, b"1.3.6.1.4.1.1466.20036")))
#: A bind reply whose message id is a 60 KiB INTEGER.
HUGE_ID = ber(0x30, ber(0x02, b"\x7f" * 60000) + ber(0x61, b"\x0a\x01\x00\x04\x00\x04\x00"))


def spec_for(service: Service, **kw: object) -> CheckSpec:
    base = CheckSpec(service=service, checktimeout=WHOLE, negotiatetimeout=STEP)
    return replace(base, **kw)  # type: ignore[arg-type]


def rx(pattern: str) -> ReceivePattern:
    return regex.compile(pattern.encode())


# (id, request, receive, login, passwd, expect ok, expected detail fragment)
SERVER_ROWS = [
    ("root-dse", "/", None, "", "", True, "(root DSE)"),
    ("suffix", f"/{SUFFIX}", None, "", "", True, SUFFIX),
    ("receive-matches", f"/{PEOPLE}", "ou=people,dc=ex", "", "", True, PEOPLE),
    ("receive-regex", f"/{SUFFIX}", r"^dc=\w+,dc=com$", "", "", True, SUFFIX),
    ("bind-user", f"/{BIND_DN}", "uid=checker", BIND_DN, BIND_PW, True, BIND_DN),
    ("login-without-passwd-is-anonymous", f"/{SUFFIX}", None, BIND_DN, "", True, SUFFIX),
    ("wrong-receive", f"/{SUFFIX}", "dc=other", "", "", False, "receive did not match"),
    ("wrong-password", f"/{SUFFIX}", None, BIND_DN, "nope", False, "invalidCredentials"),
    ("unknown-user", f"/{SUFFIX}", None, f"uid=ghost,{PEOPLE}", "x", False,
     "invalidCredentials"),
    ("no-such-base", f"/ou=nobody,{SUFFIX}", None, "", "", False, "noSuchObject"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("service", "checker"), KINDS, ids=["ldap", "ldaps"])
@pytest.mark.parametrize(("request_", "receive", "login", "passwd", "ok", "detail"),
                         [r[1:] for r in SERVER_ROWS], ids=[r[0] for r in SERVER_ROWS])
async def test_against_slapd(slapd: Slapd, host: str, service: Service, checker: Checker,
                             request_: str, receive: str | None, login: str, passwd: str,
                             ok: bool, detail: str) -> None:
    port = slapd.ldap_port if service is Service.LDAP else slapd.ldaps_port
    spec = spec_for(service, request=request_, receive=rx(receive) if receive else None,
                    login=login, passwd=passwd)
    result = await bounded_check(checker, Target(host, port), spec, bound=BOUND)
    assert result.ok is ok, result
    assert detail in result.detail
    assert result.ok or documented(service.value, result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("service", "checker"), KINDS, ids=["ldap", "ldaps"])
async def test_refused(host: str, service: Service, checker: Checker) -> None:
    result = await bounded_check(checker, refused_target(host), spec_for(service), bound=BOUND)
    assert not result.ok
    assert result.detail == "connection refused"


# (id, steps, expected detail fragment) for plain ldap: each row a misbehaving server.
FAULT_ROWS: list[tuple[str, list[Step], str]] = [
    ("black-holed", list(BLACKHOLE), "timeout after 1s waiting for bind reply"),
    ("stalled-after-bind", [Recv(), Send(BIND_OK), Stall()],
     "timeout after 1s waiting for search reply"),
    ("reset-at-bind", [Recv(), Reset()], "connection reset by server"),
    ("reset-after-bind", [Recv(), Send(BIND_OK), Recv(), Reset()], "connection reset by server"),
    ("closed-at-bind", [Recv(), Send(b"0\x0c\x02")], "connection closed by server"),
    ("garbage", [Recv(), garbage()], "not an LDAP reply"),
    ("garbage-ber", [Recv(), Send(b"0\x03\x02\x01\x01")], "malformed LDAP reply"),
    ("oversized-plain", [Recv(), oversized()], "not an LDAP reply"),
    ("oversized-ber", [Recv(), oversized(b"0\x84\x7f\xff\xff\xff")],
     "LDAP reply too large (2147483647 bytes)"),
    ("oversized-just-over", [Recv(), oversized(b"0\x83" + (MAX_MESSAGE + 1).to_bytes(3, "big"))],
     "LDAP reply too large"),
    ("bind-then-garbage", [Recv(), Send(BIND_OK), Recv(), garbage()], "not an LDAP reply"),
    ("huge-integer", [Recv(), Send(HUGE_ID)], "malformed LDAP reply"),
    ("notice-of-disconnection", [Recv(), Send(NOTICE)],
     "LDAP server disconnected: unavailable (52): going away"),
    ("wrong-message-id", [Recv(), Send(BIND_OK.replace(b"\x02\x01\x01", b"\x02\x01\x07"))],
     "LDAP bind: reply to unknown message 7"),
    ("search-reply-to-bind", [Recv(), Send(DONE.replace(b"\x02\x01\x02", b"\x02\x01\x01"))],
     "LDAP bind: unexpected reply"),
    ("two-entries", [Recv(), Send(BIND_OK), Recv(), Send(ENTRY + ENTRY + DONE)],
     "LDAP search returned more than one entry"),
    ("no-entry", [Recv(), Send(BIND_OK), Recv(), Send(REFERENCE + DONE)],
     "LDAP search returned no entry"),
    ("endless-references", [Recv(), Send(BIND_OK), Recv(), Send(REFERENCE * 100)],
     "LDAP search: too many replies"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("steps", "detail"), [r[1:] for r in FAULT_ROWS],
                         ids=[r[0] for r in FAULT_ROWS])
async def test_misbehaving_ldap_server(host: str, steps: list[Step], detail: str) -> None:
    async with no_leaks(), scripted_server(steps, host) as target:
        result = await bounded_check(check_ldap, target, spec_for(Service.LDAP), bound=BOUND,
                                     leak_guard=False)
    assert not result.ok
    assert detail in result.detail, result
    assert documented("ldap", result.detail), result


# (id, steps, expected detail fragment) for ldaps: failures before and during the handshake.
TLS_ROWS: list[tuple[str, list[Step], str]] = [
    ("stalled-handshake", [Stall()], "timeout after 1s in TLS handshake"),
    ("reset-in-handshake", [Recv(), Reset()], "connection reset by server"),
    ("garbage-handshake", [Recv(), garbage()], "TLS handshake failed: "),
    ("closed-in-handshake", [Recv(), Send(b"")], "connection"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("steps", "detail"), [r[1:] for r in TLS_ROWS],
                         ids=[r[0] for r in TLS_ROWS])
async def test_misbehaving_ldaps_server(host: str, steps: list[Step], detail: str) -> None:
    async with no_leaks(), scripted_server(steps, host) as target:
        result = await bounded_check(check_ldaps, target, spec_for(Service.LDAPS), bound=BOUND,
                                     leak_guard=False)
    assert not result.ok
    assert detail in result.detail, result
    assert documented("ldaps", result.detail), result


@pytest.mark.asyncio
async def test_checktimeout_bounds_the_whole_check() -> None:
    """A checktimeout shorter than negotiatetimeout cuts the check short (the original's alarm)."""
    spec = spec_for(Service.LDAP, checktimeout=0.5, negotiatetimeout=5.0)
    async with no_leaks(), scripted_server([Recv(), Send(BIND_OK), Stall()]) as target:
        result = await bounded_check(check_ldap, target, spec, bound=1.0, leak_guard=False)
    assert not result.ok
    assert result.detail == "timeout after 0.5s"


@pytest.mark.asyncio
async def test_ldaps_against_plain_ldap_port_fails(slapd: Slapd) -> None:
    result = await bounded_check(check_ldaps, Target("127.0.0.1", slapd.ldap_port),
                                 spec_for(Service.LDAPS), bound=BOUND)
    assert not result.ok


@pytest.mark.asyncio
async def test_repeated_checks_reuse_nothing_stale(slapd: Slapd) -> None:
    """Back-to-back ldaps checks of the same server all succeed (no state left behind)."""
    target = Target("127.0.0.1", slapd.ldaps_port)
    for _ in range(3):
        result = await bounded_check(check_ldaps, target, spec_for(Service.LDAPS), bound=BOUND)
        assert result.ok, result


@pytest.mark.asyncio
async def test_ldaps_with_its_own_tls_client(slapd: Slapd) -> None:
    """The TlsClient a caller chose is used (and its session cache consulted) check after
    check: a verifying one rejects slapd's test certificate.

    slapd built with GnuTLS issues no session tickets, so nothing ends up cached here.
    """
    target = Target("::1", slapd.ldaps_port)
    spec = spec_for(Service.LDAPS, request=f"/{SUFFIX}", receive=rx("^dc=example"))
    with use_client(TlsClient()):
        for _ in range(2):
            result = await bounded_check(check_ldaps, target, spec, bound=BOUND)
            assert result.ok, result
    with use_client(TlsClient(verify=True)):
        result = await bounded_check(check_ldaps, target, spec, bound=BOUND)
    assert not result.ok, result


@dataclass
class TlsPeer:
    """What the scripted LDAPS peer saw: the SNI and whether the session was resumed."""

    target: Target
    names: list[str | None] = field(default_factory=list)
    resumed: list[bool] = field(default_factory=list)


@contextlib.asynccontextmanager
async def tls_ldap_peer(*, ignore_close: bool = False) -> AsyncIterator[TlsPeer]:
    """A scripted LDAP peer behind Python's TLS server (OpenSSL: it issues session tickets)
    answering the bind and the search; with `ignore_close` it then stops reading, so the
    client's close_notify is never answered."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "ldap.test").configure_cert(server_ctx)
    names: list[str | None] = []
    resumed: list[bool] = []
    server_ctx.sni_callback = lambda _obj, name, _ctx: names.append(name)
    release = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        resumed.append(writer.get_extra_info("ssl_object").session_reused)
        try:
            for answer in (BIND_OK, ENTRY + DONE):
                head = await reader.readexactly(2)
                await reader.readexactly(head[1])
                writer.write(answer)
            if ignore_close:
                writer.transport.pause_reading()
                await release.wait()
            else:
                await reader.read()  # the unbind, then EOF
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    try:
        port = server.sockets[0].getsockname()[1]
        yield TlsPeer(Target("127.0.0.1", port), names, resumed)
    finally:
        release.set()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_ldaps_sni_and_session_reuse() -> None:
    """No SNI for an IP literal, the virtualhost as SNI when set, and the second check of a
    server resumes the TLS session. slapd cannot show this (its GnuTLS build issues no
    session tickets), so a scripted peer behind Python's TLS server stands in."""
    client = TlsClient()
    async with no_leaks(), tls_ldap_peer() as peer:
        for virtualhost in (None, None, "ldap.test"):
            spec = spec_for(Service.LDAPS, request=f"/{SUFFIX}", virtualhost=virtualhost)
            with use_client(client):
                result = await bounded_check(check_ldaps, peer.target, spec, bound=BOUND,
                                             leak_guard=False)
            assert result.ok, result
            assert result.detail == f"LDAP entry {SUFFIX}"
    assert peer.names == [None, None, "ldap.test"]
    assert peer.resumed == [False, True, False]  # a session is kept per (host, port, SNI)


@pytest.mark.asyncio
async def test_unanswered_close_does_not_turn_success_into_timeout() -> None:
    """The verdict is in once the search is done: a peer that never answers the TLS
    close_notify costs at most the rest of checktimeout, and the check stays up."""
    spec = spec_for(Service.LDAPS, request=f"/{SUFFIX}", checktimeout=0.6,
                    negotiatetimeout=0.5)
    async with no_leaks(), tls_ldap_peer(ignore_close=True) as peer:
        result = await bounded_check(check_ldaps, peer.target, spec, bound=1.1, leak_guard=False)
    assert result.ok, result
