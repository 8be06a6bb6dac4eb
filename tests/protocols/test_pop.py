"""pop and pops checkers against dovecot (real server) and scripted misbehaving peers."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import replace

import pytest
import trustme

from checkers._dialog import check_dialog, connect
from checkers.base import CheckSpec, Target
from checkers.pop import check_pop, check_pops, pop_dialog
from checkers.tls import TlsClient, use_client
from ldirectord.config.model import Service
from tests.protocols.faults import (
    BLACKHOLE,
    REAL_SERVER_TIMEOUT,
    RecvLine,
    Reset,
    Send,
    Stall,
    Step,
    bounded_check,
    garbage,
    misbehaving_check,
    no_leaks,
    oversized,
    refused_target,
)
from tests.protocols.servers_mail import (
    TEST_PASSWORD,
    TEST_USER,
    Dovecot,
    dovecot,
)

__all__ = ["dovecot"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
TIMEOUT = 1.0
ANON = CheckSpec(Service.POP, negotiatetimeout=TIMEOUT)
USER = replace(ANON, login=TEST_USER, passwd=TEST_PASSWORD)
WRONG = replace(USER, passwd="wrong")


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("tls", "spec", "ok", "detail"), [
    (False, ANON, True, "POP +OK"),
    (False, USER, True, "POP +OK Logged in."),
    (False, WRONG, False, "POP login failed: -ERR [AUTH] Authentication failed."),
    (True, ANON, True, "POPS +OK"),
    (True, USER, True, "POPS +OK Logged in."),
    (True, WRONG, False, "POP login failed: -ERR [AUTH] Authentication failed."),
], ids=["pop-greeting", "pop-login", "pop-wrong-password", "pops-greeting", "pops-login",
        "pops-wrong-password"])
async def test_dovecot(dovecot: Dovecot, host: str, tls: bool, spec: CheckSpec, ok: bool,
                       detail: str) -> None:
    checker, port = (check_pops, dovecot.pop3s) if tls else (check_pop, dovecot.pop3)
    result = await bounded_check(checker, Target(host, port),
                                 replace(spec, negotiatetimeout=REAL_SERVER_TIMEOUT))
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_pops_session_is_kept_and_reused(dovecot: Dovecot, host: str) -> None:
    client = TlsClient()
    target = Target(host, dovecot.pop3s)
    for _ in range(2):
        async with no_leaks():
            with use_client(client):
                result = await check_dialog(target, USER, pop_dialog(TEST_USER, TEST_PASSWORD),
                                            name="POPS", tls=True)
        assert result.ok, result
        assert client.session_for(host, dovecot.pop3s) is not None


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_tls_session_is_resumed_where_the_server_allows(host: str) -> None:
    # dovecot starts a login process per connection, so it cannot resume sessions; a TLS
    # server that keeps its ticket key (here Python's own) shows that checks resume them.
    cert = trustme.CA().issue_cert("pop.ldirectord.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK ready\r\n")
        with contextlib.suppress(OSError):
            await writer.drain()
            await reader.read(100)
        writer.close()

    server = await asyncio.start_server(serve, host, 0, ssl=server_ctx)
    target = Target(host, server.sockets[0].getsockname()[1])
    reused = []
    try:
        with use_client(TlsClient()):  # a fresh session cache: the first check resumes nothing
            for _ in range(3):
                async with no_leaks(), connect(target, ANON, tls=True) as channel:
                    assert await channel.readline() == b"+OK ready\r\n"
                    reused.append(channel.writer.get_extra_info("ssl_object").session_reused)
    finally:
        server.close()
        await server.wait_closed()
    assert reused == [False, True, True]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_pops_against_plain_port_is_a_tls_error(dovecot: Dovecot, host: str) -> None:
    result = await bounded_check(check_pops, Target(host, dovecot.pop3), ANON)
    assert not result.ok and result.detail.startswith("POPS: TLS error"), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("spec", [ANON, USER], ids=["anon", "login"])
async def test_refused(host: str, spec: CheckSpec) -> None:
    # Part A §6: unlike the original, a POP check without login is down when nobody answers.
    result = await bounded_check(check_pop, refused_target(host), spec)
    assert not result.ok and result.detail == "POP: connection refused", result


GREETING = Send(b"+OK ready\r\n")


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("tls", "spec", "steps", "detail"), [
    (False, ANON, BLACKHOLE, "POP: timeout after 1s"),
    (False, USER, [GREETING, RecvLine(), Stall()], "POP: timeout after 1s"),
    (False, USER, [GREETING, RecvLine(), Reset()], "POP: connection"),
    (False, USER, [GREETING, RecvLine(), Send(b"+OK\r\n"), RecvLine(), Reset()],
     "POP: connection"),
    (False, ANON, [garbage()], "POP greeting: "),
    (False, ANON, [oversized(b"+OK ")], "POP: reply line longer than"),
    (False, ANON, [Send(b"-ERR maintenance\r\n")], "POP greeting: -ERR maintenance"),
    (True, ANON, [Stall()], "POPS: timeout after 1s"),
    (True, ANON, [garbage()], "POPS: TLS error"),
], ids=["blackholed", "stalled-after-user", "reset-after-user", "reset-after-pass",
        "garbage-greeting", "oversized-greeting", "err-greeting", "tls-stalled-handshake",
        "tls-garbage"])
async def test_misbehaving_peer(host: str, tls: bool, spec: CheckSpec, steps: Sequence[Step],
                                detail: str) -> None:
    result = await misbehaving_check(check_pops if tls else check_pop, steps, host, spec)
    assert not result.ok, result
    assert result.detail.startswith(detail), result
