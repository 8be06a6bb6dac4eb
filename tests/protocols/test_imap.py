"""imap and imaps checkers against dovecot (real server) and scripted misbehaving peers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from checkers.base import CheckSpec, Target
from checkers.imap import check_imap, check_imaps
from ldirectord.config.model import Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    REAL_SERVER_TIMEOUT,
    bounded_check,
)
from tests.protocols.servers_mail import (
    EXTRA_USERS,
    TEST_PASSWORD,
    TEST_USER,
    Dovecot,
    dovecot,
)

__all__ = ["dovecot"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
TIMEOUT = 1.0
ANON = CheckSpec(Service.IMAP, negotiatetimeout=TIMEOUT)
USER = replace(ANON, login=TEST_USER, passwd=TEST_PASSWORD)
WRONG = replace(USER, passwd="wrong")
QUOTED = replace(ANON, login="quoted", passwd=EXTRA_USERS["quoted"])
LITERAL = replace(ANON, login="literal", passwd=EXTRA_USERS["literal"])
LITERAL_WRONG = replace(LITERAL, passwd="pässwörd")
FAILED = "IMAP login failed: a1 NO [AUTHENTICATIONFAILED] Authentication failed."


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("tls", "spec", "ok", "detail"), [
    (False, ANON, True, "IMAP * OK"),
    (False, USER, True, "IMAP a1 OK"),
    (False, WRONG, False, FAILED),
    (False, QUOTED, True, "IMAP a1 OK"),
    (False, LITERAL, True, "IMAP a1 OK"),
    (False, LITERAL_WRONG, False, FAILED),
    (True, ANON, True, "IMAPS * OK"),
    (True, USER, True, "IMAPS a1 OK"),
    (True, WRONG, False, FAILED),
], ids=["imap-greeting", "imap-login", "imap-wrong-password", "imap-quoted-password",
        "imap-literal-password", "imap-wrong-literal-password", "imaps-greeting", "imaps-login",
        "imaps-wrong-password"])
async def test_dovecot(dovecot: Dovecot, host: str, tls: bool, spec: CheckSpec, ok: bool,
                       detail: str) -> None:
    # The check port is what is probed (the original always went to 143, SPEC 6.1 #16).
    checker, port = (check_imaps, dovecot.imaps) if tls else (check_imap, dovecot.imap)
    result = await bounded_check(checker, Target(host, port),
                                 replace(spec, negotiatetimeout=REAL_SERVER_TIMEOUT))
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result
    assert result.ok or documented("imaps" if tls else "imap", result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_imaps_against_plain_port_is_a_tls_failure(dovecot: Dovecot, host: str) -> None:
    result = await bounded_check(check_imaps, Target(host, dovecot.imap), ANON)
    assert not result.ok and result.detail.startswith("IMAPS: TLS handshake failed: "), result
