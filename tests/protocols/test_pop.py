"""pop and pops checkers against dovecot (real server) and scripted misbehaving peers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from checkers.base import CheckSpec, Target
from checkers.pop import check_pop, check_pops
from ldirectord.config.model import Service
from tests.protocols.faults import (
    BLACKHOLE,
    RecvLine,
    Reset,
    Send,
    Stall,
    Step,
    garbage,
    oversized,
    refused_target,
)
from tests.protocols.servers_mail import (
    TEST_PASSWORD,
    TEST_USER,
    Dovecot,
    bounded_check,
    dovecot,
    misbehaving_check,
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
    result = await bounded_check(checker, Target(host, port), spec)
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_pops_session_is_resumed(dovecot: Dovecot, host: str) -> None:
    import checkers.tls
    from checkers.tls import TlsClient

    client = TlsClient()
    original, checkers.tls._default = checkers.tls._default, client
    try:
        target = Target(host, dovecot.pop3s)
        assert (await bounded_check(check_pops, target, USER)).ok
        assert client.session_for(host, dovecot.pop3s) is not None
        assert (await bounded_check(check_pops, target, USER)).ok
    finally:
        checkers.tls._default = original


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
