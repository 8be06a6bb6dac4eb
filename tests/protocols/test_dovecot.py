"""imap, imaps, pop and pops checkers against dovecot (a real server).

Their misbehaving peers are rows of test_fault_table.py; TLS session reuse is in
test_pop.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from checkers.base import Checker, CheckSpec, Target
from checkers.imap import check_imap, check_imaps
from checkers.pop import check_pop, check_pops
from ldirectord.config.model import Service
from tests.checks_doc import documented
from tests.protocols.faults import REAL_SERVER_TIMEOUT, bounded_check
from tests.protocols.servers_mail import EXTRA_USERS, TEST_PASSWORD, TEST_USER, Dovecot, dovecot

__all__ = ["dovecot"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
IMAP = CheckSpec(Service.IMAP, negotiatetimeout=REAL_SERVER_TIMEOUT)
IMAP_USER = replace(IMAP, login=TEST_USER, passwd=TEST_PASSWORD)
QUOTED = replace(IMAP, login="quoted", passwd=EXTRA_USERS["quoted"])
LITERAL = replace(IMAP, login="literal", passwd=EXTRA_USERS["literal"])
IMAP_FAILED = "IMAP login failed: a1 NO [AUTHENTICATIONFAILED] Authentication failed."
POP = CheckSpec(Service.POP, negotiatetimeout=REAL_SERVER_TIMEOUT)
POP_USER = replace(POP, login=TEST_USER, passwd=TEST_PASSWORD)
POP_FAILED = "POP login failed: -ERR [AUTH] Authentication failed."

#: Each check, the dovecot port it is run against (the check port is what is probed: the
#: original always went to 143, SPEC 6.1 #16) and the one where TLS is not spoken.
CHECKS: dict[str, tuple[Checker, str, str]] = {
    "imap": (check_imap, "imap", "imap"), "imaps": (check_imaps, "imaps", "imap"),
    "pop": (check_pop, "pop3", "pop3"), "pops": (check_pops, "pop3s", "pop3"),
}

# (service, id, spec, expect ok, expected start of the detail)
ROWS: list[tuple[str, str, CheckSpec, bool, str]] = [
    ("imap", "greeting", IMAP, True, "IMAP * OK"),
    ("imap", "login", IMAP_USER, True, "IMAP a1 OK"),
    ("imap", "wrong-password", replace(IMAP_USER, passwd="wrong"), False, IMAP_FAILED),
    ("imap", "quoted-password", QUOTED, True, "IMAP a1 OK"),
    ("imap", "literal-password", LITERAL, True, "IMAP a1 OK"),
    ("imap", "wrong-literal-password", replace(LITERAL, passwd="pässwörd"), False, IMAP_FAILED),
    ("imaps", "greeting", IMAP, True, "IMAPS * OK"),
    ("imaps", "login", IMAP_USER, True, "IMAPS a1 OK"),
    ("imaps", "wrong-password", replace(IMAP_USER, passwd="wrong"), False, IMAP_FAILED),
    ("pop", "greeting", POP, True, "POP +OK"),
    ("pop", "login", POP_USER, True, "POP +OK Logged in."),
    ("pop", "wrong-password", replace(POP_USER, passwd="wrong"), False, POP_FAILED),
    ("pops", "greeting", POP, True, "POPS +OK"),
    ("pops", "login", POP_USER, True, "POPS +OK Logged in."),
    ("pops", "wrong-password", replace(POP_USER, passwd="wrong"), False, POP_FAILED),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("service", "spec", "ok", "detail"),
                         [pytest.param(r[0], *r[2:], id=f"{r[0]}-{r[1]}") for r in ROWS])
async def test_dovecot(dovecot: Dovecot, host: str, service: str, spec: CheckSpec, ok: bool,
                       detail: str) -> None:
    checker, port, _ = CHECKS[service]
    result = await bounded_check(checker, Target(host, getattr(dovecot, port)), spec)
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result
    assert result.ok or documented(service, result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("service", ["imaps", "pops"])
async def test_tls_against_a_plain_port_fails(dovecot: Dovecot, host: str, service: str) -> None:
    checker, _, plain = CHECKS[service]
    spec = IMAP if service == "imaps" else POP
    result = await bounded_check(checker, Target(host, getattr(dovecot, plain)), spec)
    assert not result.ok, result
    assert result.detail.startswith(f"{service.upper()}: TLS handshake failed: "), result
    assert documented(service, result.detail), result
