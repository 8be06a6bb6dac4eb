"""mysql and pgsql checkers against MariaDB and PostgreSQL (IPv4 and IPv6).

The misbehaving peers of both are rows of test_fault_table.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from checkers import sql
from checkers.base import Checker, CheckSpec, Result, Target, timed_out
from checkers.sql import MISSING_ARGUMENTS, check_mysql, check_pgsql
from ldirectord.config.model import Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    REAL_SERVER_TIMEOUT,
    bounded_check,
    cancel_ends_promptly,
    no_leaks,
    refused_target,
)
from tests.protocols.servers_sql import (
    DATABASE,
    PASSWORD,
    USER,
    SqlServer,
    mariadb_server,
    postgres_server,
)
from tests.protocols.servers_tcp import HOSTS

__all__ = ["mariadb_server", "postgres_server"]  # the fixtures, imported so pytest finds them

TIMEOUT = 1.5
TIMED_OUT = timed_out(TIMEOUT)
QUERY = "/SELECT id FROM backends WHERE enabled = 1"


@dataclass(frozen=True)
class Kind:
    """One SQL check: its checker, its spec, its driver and its real server."""

    name: str  # the service, and the extra that installs the driver
    checker: Checker
    service: Service
    driver: str  # checkers.sql's attribute holding the driver module
    server: str  # the fixture of the real server
    hang: str  # a statement that keeps the server busy for 10 s

    @property
    def spec(self) -> CheckSpec:
        return CheckSpec(service=self.service, login=USER, passwd=PASSWORD, database=DATABASE,
                         request=QUERY, negotiatetimeout=REAL_SERVER_TIMEOUT)


MYSQL = Kind("mysql", check_mysql, Service.MYSQL, "_pymysql", "mariadb_server",
             "/SELECT SLEEP(10)")
PGSQL = Kind("pgsql", check_pgsql, Service.PGSQL, "_psycopg", "postgres_server",
             "/SELECT pg_sleep(10)")
KINDS = [pytest.param(MYSQL, id="mysql"), pytest.param(PGSQL, id="pgsql")]


async def run(kind: Kind, target: Target, spec: CheckSpec) -> Result:
    """One check, held to its negotiatetimeout + 0.5 s (the caller holds the leak guard)."""
    return await bounded_check(kind.checker, target, spec, leak_guard=False)


def server(request: pytest.FixtureRequest, kind: Kind) -> SqlServer:
    fixture = request.getfixturevalue(kind.server)
    assert isinstance(fixture, SqlServer)
    return fixture


# (kind, id, change to the spec, expect ok, expected part of the detail)
ROWS: list[tuple[Kind, str, dict[str, Any], bool, str]] = [
    (MYSQL, "up", {}, True, "query returned rows"),
    (MYSQL, "no-slash", {"request": "SELECT 1"}, True, "query returned rows"),
    (MYSQL, "no-rows", {"request": "/SELECT id FROM backends WHERE enabled = 7"}, False,
     "query returned no rows"),
    (MYSQL, "no-result-set", {"request": "/DO 1"}, False, "statement returned no rows"),
    (MYSQL, "wrong-password", {"passwd": "wrong"}, False,
     "MySQL error 1045: Access denied for user 'checker'@"),
    (MYSQL, "wrong-user", {"login": "intruder"}, False,
     "MySQL error 1045: Access denied for user 'intruder'@"),
    (MYSQL, "wrong-database", {"database": "elsewhere"}, False,
     "MySQL error 1044: Access denied for user"),
    (MYSQL, "bad-sql", {"request": "/SELECT * FROM nope"}, False,
     "MySQL error 1146: Table 'ldtest.nope' doesn't exist"),
    # A server that hangs mid-query: the deadline shuts the socket, the thread ends.
    (MYSQL, "hung-query", {"request": MYSQL.hang, "negotiatetimeout": TIMEOUT}, False, TIMED_OUT),
    (PGSQL, "up", {}, True, "query returned rows"),
    (PGSQL, "no-slash", {"request": "SELECT 1"}, True, "query returned rows"),
    (PGSQL, "no-rows", {"request": "/SELECT id FROM backends WHERE enabled = 7"}, False,
     "query returned no rows"),
    (PGSQL, "no-result-set", {"request": "/SET search_path TO public"}, False,
     "statement returned no rows"),
    (PGSQL, "wrong-password", {"passwd": "wrong"}, False,
     'password authentication failed for user "checker"'),
    (PGSQL, "wrong-user", {"login": "intruder"}, False,
     'password authentication failed for user "intruder"'),
    (PGSQL, "wrong-database", {"database": "elsewhere"}, False,
     'database "elsewhere" does not exist'),
    (PGSQL, "bad-sql", {"request": "/SELECT * FROM nope"}, False,
     'relation "nope" does not exist'),
    # A server that hangs mid-query: the deadline shuts the socket, no cancel round trip.
    (PGSQL, "hung-query", {"request": PGSQL.hang, "negotiatetimeout": TIMEOUT}, False, TIMED_OUT),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("kind", "change", "ok", "detail"),
                         [pytest.param(*r[:1], *r[2:], id=f"{r[0].name}-{r[1]}") for r in ROWS])
async def test_real_server(request: pytest.FixtureRequest, host: str, kind: Kind,
                           change: dict[str, Any], ok: bool, detail: str) -> None:
    port = server(request, kind).port
    async with no_leaks():
        result = await run(kind, Target(host, port), replace(kind.spec, **change))
    assert result.ok is ok, result
    assert detail in result.detail, result
    assert result.ok or documented(kind.name, result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change", [{"login": ""}, {"request": "/"}, {"request": ""}])
async def test_login_and_request_are_required(kind: Kind, change: dict[str, Any]) -> None:
    result = await run(kind, refused_target(), replace(kind.spec, **change))  # never contacted
    assert not result.ok
    assert result.detail == MISSING_ARGUMENTS.format(host="127.0.0.1")
    assert result.detail == ("Error: Must specify a login and request string for MySQL, "
                             "Oracle and PostgreSQL checks. Not adding 127.0.0.1.")


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_driver_missing(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, kind.driver, None)
    result = await run(kind, refused_target(), kind.spec)
    assert not result.ok
    assert result.detail == (f"{kind.name} support not installed: "
                             f"pip install ldirectord[{kind.name}]")


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("kind", KINDS)
async def test_cancelled_query_releases_everything(request: pytest.FixtureRequest, host: str,
                                                   kind: Kind) -> None:
    """The daemon cancels checks on reload and stop: nothing may stay open or running.

    0.8 s is long enough for the login to be over, so the query is what gets interrupted.
    """
    hung = replace(kind.spec, request=kind.hang, negotiatetimeout=30)
    target = Target(host, server(request, kind).port)
    async with no_leaks():
        await cancel_ends_promptly(kind.checker(target, hung), 0.8, 2.0)
