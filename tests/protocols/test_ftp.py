"""ftp checker against proftpd (real server) and scripted misbehaving peers."""

from __future__ import annotations

from dataclasses import replace

import pytest
import regex

from checkers.base import CheckSpec, Target
from checkers.ftp import check_ftp
from ldirectord.config.model import Service
from ldirectord.config.perlre import ReceivePattern
from tests.checks_doc import documented
from tests.protocols.faults import (
    REAL_SERVER_TIMEOUT,
    bounded_check,
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
    assert result.ok or documented("ftp", result.detail), result
