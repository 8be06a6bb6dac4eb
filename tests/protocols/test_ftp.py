"""ftp checker against proftpd (real server) and scripted misbehaving peers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
import regex

from checkers.base import CheckSpec, Target
from checkers.ftp import check_ftp
from ldirectord.config.model import Service
from ldirectord.config.perlre import ReceivePattern
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
from tests.protocols.servers_ftp import (
    ANON_FILE,
    BIG_FILE,
    FTP_PASSWORD,
    FTP_USER,
    USER_FILE,
    Proftpd,
    proftpd,
)

__all__ = ["proftpd"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
# The config layer fills an explicit `service = ftp` with anonymous credentials.
ANON = CheckSpec(Service.FTP, login="anonymous", passwd="ldirectord@test",
                 negotiatetimeout=2.0)
USER = replace(ANON, login=FTP_USER, passwd=FTP_PASSWORD)


def rx(pattern: bytes) -> ReceivePattern:
    return regex.compile(pattern)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("spec", "ok", "detail"), [
    # receive empty, request "/": the login alone decides (Part A §6).
    (USER, True, "FTP logged in as bob"),
    (ANON, True, "FTP logged in as anonymous"),
    (replace(USER, login="", passwd=""), True, "FTP logged in as anonymous"),
    (replace(USER, passwd="wrong"), False, "FTP login failed: 530"),
    (replace(USER, login="nosuchuser"), False, "FTP login failed: 530"),
    # receive empty, request set: the RETR must succeed too.
    (replace(USER, request=USER_FILE), True, f"FTP RETR {USER_FILE}: 25 bytes"),
    (replace(USER, request="/missing.txt"), False, "FTP RETR /missing.txt failed: 550"),
    # receive set: the file's content must match.
    (replace(USER, request=USER_FILE, receive=rx(rb"user file: OK")), True,
     f"FTP RETR {USER_FILE}: receive matched"),
    (replace(ANON, request=ANON_FILE, receive=rx(rb"anonymous file: (OK|FINE)")), True,
     f"FTP RETR {ANON_FILE}: receive matched"),
    (replace(USER, request=USER_FILE, receive=rx(rb"FAIL")), False,
     "FTP receive did not match"),
    (replace(USER, request="/", receive=rx(rb"OK")), False, "FTP RETR / failed: 550"),
    # A file larger than the checker reads is judged on its beginning.
    (replace(USER, request=BIG_FILE, receive=rx(rb"^\0{16}")), True,
     f"FTP RETR {BIG_FILE}: receive matched"),
], ids=["login", "anonymous", "empty-login-is-anonymous", "wrong-password", "unknown-user",
        "retr", "retr-missing", "receive-match", "anonymous-receive-match", "receive-mismatch",
        "receive-on-directory", "big-file"])
async def test_proftpd(proftpd: Proftpd, host: str, spec: CheckSpec, ok: bool,
                       detail: str) -> None:
    result = await bounded_check(check_ftp, Target(host, proftpd.port),
                                 replace(spec, negotiatetimeout=REAL_SERVER_TIMEOUT))
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_refused(host: str) -> None:
    # Part A §6: the original's FTP check without receive was up even when unreachable.
    result = await bounded_check(check_ftp, refused_target(host), USER)
    assert not result.ok and result.detail == "FTP: connection refused", result


GREETING = Send(b"220 FTP ready\r\n")


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("steps", "detail"), [
    (BLACKHOLE, "FTP: timeout after 2s"),
    ([GREETING, RecvLine(), Stall()], "FTP: timeout after 2s"),
    ([GREETING, RecvLine(), Reset()], "FTP: connection"),
    ([GREETING, RecvLine(), Send(b"331 password please\r\n"), RecvLine(), Reset()],
     "FTP: connection"),
    ([garbage()], "FTP: "),
    ([oversized(b"220 ")], "FTP: malformed or oversized reply"),
    ([Send(b"421 too many users\r\n")], "FTP: 421"),
    ([Send(b"220-welcome\r\n" * 100_000), Stall()], "FTP: malformed or oversized reply"),
], ids=["blackholed", "stalled-after-user", "reset-after-user", "reset-after-pass",
        "garbage-greeting", "oversized-greeting", "421-greeting", "endless-greeting"])
async def test_misbehaving_peer(host: str, steps: Sequence[Step], detail: str) -> None:
    result = await misbehaving_check(check_ftp, steps, host, USER)
    assert not result.ok, result
    assert result.detail.startswith(detail), result
