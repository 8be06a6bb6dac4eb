"""smtp and submission checkers against exim4 (real server) and scripted misbehaving peers."""

from __future__ import annotations

import asyncio
import socket

import pytest

from checkers.base import Checker, CheckSpec, Target
from checkers.smtp import check_smtp, check_submission
from ldirectord.config.model import Service
from tests.protocols.faults import (
    REAL_SERVER_TIMEOUT,
    bounded_check,
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
