"""smtp and submission checkers against exim4 (real server) and scripted misbehaving peers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import pytest

from checkers.base import Checker, CheckSpec, Target
from checkers.smtp import check_smtp, check_submission
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
    oversized,
    refused_target,
)
from tests.protocols.servers_mail import Exim, exim

__all__ = ["exim"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
SPEC = CheckSpec(Service.SMTP, negotiatetimeout=1.0)
REAL = CheckSpec(Service.SMTP, negotiatetimeout=REAL_SERVER_TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("checker", [check_smtp, check_submission], ids=["smtp", "submission"])
async def test_exim(exim: Exim, host: str, checker: Checker) -> None:
    result = await bounded_check(checker, Target(host, exim.port), REAL)
    assert result.ok, result
    assert result.detail.startswith("SMTP 250 mx.ldirectord.test Hello "), result


@pytest.mark.asyncio
async def test_ehlo_name_is_the_local_host_name(exim: Exim) -> None:
    assert (await bounded_check(check_smtp, Target("127.0.0.1", exim.port), REAL)).ok
    # exim logs "no MAIL in SMTP connection from (<EHLO name>) [127.0.0.1]" once the
    # session is over: wait for that line.
    needle = f"({socket.gethostname()}) [127.0.0.1]"
    deadline = asyncio.get_running_loop().time() + 5
    while needle not in exim.mainlog.read_text(errors="replace"):
        assert asyncio.get_running_loop().time() < deadline, exim.mainlog.read_text()
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_refused(host: str) -> None:
    result = await bounded_check(check_smtp, refused_target(host), SPEC)
    assert not result.ok and result.detail == "SMTP: connection refused", result


GREETING = Send(b"220 mx.example.test ESMTP\r\n")
EHLO_REFUSED = Send(b"500 5.5.1 command unrecognized\r\n")


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("steps", "ok", "detail"), [
    (BLACKHOLE, False, "SMTP: timeout after 1s"),
    ([GREETING, RecvLine(), Stall()], False, "SMTP: timeout after 1s"),
    ([GREETING, RecvLine(), Reset()], False, "SMTP: connection"),
    ([GREETING, RecvLine(), Send(b"250-mx.example.test\r\n"), Stall()], False,
     "SMTP: timeout after 1s"),
    ([garbage()], False, "SMTP greeting: Malformed SMTP response line"),
    ([oversized(b"220 ")], False, "SMTP greeting: Response too long"),
    ([Send(b"554 5.3.2 no service\r\n")], False, "SMTP greeting: 554 5.3.2 no service"),
    # An SMTP (not ESMTP) server: EHLO refused, HELO accepted.
    ([GREETING, RecvLine(), EHLO_REFUSED, RecvLine(), Send(b"250 mx.example.test\r\n"),
      RecvLine(), Send(b"221 bye\r\n")], True, "SMTP 250 mx.example.test"),
    ([GREETING, RecvLine(), EHLO_REFUSED, RecvLine(), Send(b"502 no\r\n")], False,
     "SMTP HELO failed: 502 no"),
    ([GREETING, RecvLine(), Send(b"421 4.3.2 shutting down\r\n")], False,
     "SMTP EHLO failed: 421 4.3.2 shutting down"),
    # QUIT unanswered: still up, and within the timeout.
    ([GREETING, RecvLine(), Send(b"250 mx.example.test\r\n"), RecvLine(), Stall()], True,
     "SMTP 250 mx.example.test"),
], ids=["blackholed", "stalled-after-ehlo", "reset-after-ehlo", "stalled-mid-reply",
        "garbage-greeting", "oversized-greeting", "554-greeting", "helo-fallback",
        "helo-refused", "ehlo-421", "quit-unanswered"])
async def test_misbehaving_peer(host: str, steps: Sequence[Step], ok: bool, detail: str) -> None:
    result = await misbehaving_check(check_smtp, steps, host, SPEC)
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result
