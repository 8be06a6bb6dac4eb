"""mysql checker against MariaDB (IPv4 and IPv6) and scripted misbehaving peers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from checkers import sql
from checkers.base import CheckSpec, Result, Target
from checkers.sql import MISSING_ARGUMENTS, check_mysql
from ldirectord.config.model import Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    bounded_check,
    cancel_ends_promptly,
    no_leaks,
    refused_target,
)
from tests.protocols.servers_sql import DATABASE, PASSWORD, USER, SqlServer, mariadb_server
from tests.protocols.servers_tcp import HOSTS

__all__ = ["mariadb_server"]  # the fixture, imported so pytest finds it

TIMEOUT = 1.5
TIMED_OUT = f"timeout after {TIMEOUT:g}s"
BASE = CheckSpec(service=Service.MYSQL, login=USER, passwd=PASSWORD, database=DATABASE,
                 request="/SELECT id FROM backends WHERE enabled = 1",
                 negotiatetimeout=TIMEOUT)

#: The start of a MySQL server greeting (length 0x4a, sequence 0, protocol 10, version...).
GREETING_START = b"\x4a\x00\x00\x00\x0a5.5.5-10.11"


async def run(target: Target, spec: CheckSpec) -> Result:
    """One check, held to its negotiatetimeout + 0.5 s (the caller holds the leak guard)."""
    return await bounded_check(check_mysql, target, spec, leak_guard=False)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("change", "ok", "detail"),
    [
        ({}, True, "query returned rows"),
        ({"request": "SELECT 1"}, True, "query returned rows"),  # no leading "/" to strip
        ({"request": "/SELECT id FROM backends WHERE enabled = 7"}, False,
         "query returned no rows"),
        ({"request": "/DO 1"}, False, "statement returned no rows"),
        ({"passwd": "wrong"}, False, "MySQL error 1045: Access denied for user 'checker'@"),
        ({"login": "intruder"}, False, "MySQL error 1045: Access denied for user 'intruder'@"),
        ({"database": "elsewhere"}, False, "MySQL error 1044: Access denied for user"),
        ({"request": "/SELECT * FROM nope"}, False,
         "MySQL error 1146: Table 'ldtest.nope' doesn't exist"),
        # A server that hangs mid-query: the deadline shuts the socket, the thread ends.
        ({"request": "/SELECT SLEEP(10)"}, False, TIMED_OUT),
    ],
    ids=["up", "no-slash", "no-rows", "no-result-set", "wrong-password", "wrong-user",
         "wrong-database", "bad-sql", "hung-query"],
)
async def test_mariadb(mariadb_server: SqlServer, host: str, change: dict[str, Any], ok: bool,
                       detail: str) -> None:
    async with no_leaks():
        result = await run(Target(host, mariadb_server.port), replace(BASE, **change))
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result
    assert result.ok or documented("mysql", result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("change", [{"login": ""}, {"request": "/"}, {"request": ""}])
async def test_login_and_request_are_required(change: dict[str, Any]) -> None:
    target = refused_target()  # never contacted
    result = await run(target, replace(BASE, **change))
    assert not result.ok
    assert result.detail == MISSING_ARGUMENTS.format(host="127.0.0.1")
    assert result.detail == ("Error: Must specify a login and request string for MySQL, "
                             "Oracle and PostgreSQL checks. Not adding 127.0.0.1.")


@pytest.mark.asyncio
async def test_driver_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "_pymysql", None)
    result = await run(refused_target(), BASE)
    assert not result.ok
    assert result.detail == "mysql support not installed: pip install ldirectord[mysql]"


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_cancelled_check_releases_everything(mariadb_server: SqlServer, host: str) -> None:
    """The daemon cancels checks on reload and stop: nothing may stay open or running.

    0.8 s is long enough for the login to be over, so the query is what gets interrupted.
    """
    hung = replace(BASE, request="/SELECT SLEEP(10)", negotiatetimeout=30)
    async with no_leaks():
        await cancel_ends_promptly(check_mysql(Target(host, mariadb_server.port), hung), 0.8, 2.0)
