"""pgsql checker against PostgreSQL (IPv4 and IPv6) and scripted misbehaving peers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from checkers import sql
from checkers.base import CheckSpec, Result, Target
from checkers.sql import MISSING_ARGUMENTS, check_pgsql
from ldirectord.config.model import Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    bounded_check,
    cancel_ends_promptly,
    no_leaks,
    refused_target,
)
from tests.protocols.servers_sql import DATABASE, PASSWORD, USER, SqlServer, postgres_server
from tests.protocols.servers_tcp import HOSTS

__all__ = ["postgres_server"]  # the fixture, imported so pytest finds it

TIMEOUT = 1.5
TIMED_OUT = f"timeout after {TIMEOUT:g}s"
BASE = CheckSpec(service=Service.PGSQL, login=USER, passwd=PASSWORD, database=DATABASE,
                 request="/SELECT id FROM backends WHERE enabled = 1",
                 negotiatetimeout=TIMEOUT)

#: AuthenticationOk and ReadyForQuery: a server that lets anyone in, then stalls on the query.
TRUSTING = b"R\x00\x00\x00\x08\x00\x00\x00\x00" + b"Z\x00\x00\x00\x05I"


async def run(target: Target, spec: CheckSpec) -> Result:
    """One check, held to its negotiatetimeout + 0.5 s (the caller holds the leak guard)."""
    return await bounded_check(check_pgsql, target, spec, leak_guard=False)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("change", "ok", "detail"),
    [
        ({}, True, "query returned rows"),
        ({"request": "SELECT 1"}, True, "query returned rows"),  # no leading "/" to strip
        ({"request": "/SELECT id FROM backends WHERE enabled = 7"}, False,
         "query returned no rows"),
        ({"request": "/SET search_path TO public"}, False, "statement returned no rows"),
        ({"passwd": "wrong"}, False, 'password authentication failed for user "checker"'),
        ({"login": "intruder"}, False, 'password authentication failed for user "intruder"'),
        ({"database": "elsewhere"}, False, 'database "elsewhere" does not exist'),
        ({"request": "/SELECT * FROM nope"}, False, 'relation "nope" does not exist'),
        # A server that hangs mid-query: the deadline shuts the socket, no cancel round trip.
        ({"request": "/SELECT pg_sleep(10)"}, False, TIMED_OUT),
    ],
    ids=["up", "no-slash", "no-rows", "no-result-set", "wrong-password", "wrong-user",
         "wrong-database", "bad-sql", "hung-query"],
)
async def test_postgres(postgres_server: SqlServer, host: str, change: dict[str, Any],
                        ok: bool, detail: str) -> None:
    async with no_leaks():
        result = await run(Target(host, postgres_server.port), replace(BASE, **change))
    assert result.ok is ok, result
    assert detail in result.detail, result
    assert result.ok or documented("pgsql", result.detail), result
    if not ok and detail != TIMED_OUT:
        assert result.detail.startswith("PostgreSQL error: ") or "rows" in detail


@pytest.mark.asyncio
@pytest.mark.parametrize("change", [{"login": ""}, {"request": "/"}, {"request": ""}])
async def test_login_and_request_are_required(change: dict[str, Any]) -> None:
    result = await run(refused_target(), replace(BASE, **change))  # never contacted
    assert not result.ok
    assert result.detail == MISSING_ARGUMENTS.format(host="127.0.0.1")


@pytest.mark.asyncio
async def test_driver_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "_psycopg", None)
    result = await run(refused_target(), BASE)
    assert not result.ok
    assert result.detail == "pgsql support not installed: pip install ldirectord[pgsql]"


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_cancelled_check_releases_everything(postgres_server: SqlServer, host: str) -> None:
    """The daemon cancels checks on reload and stop: nothing may stay open or running.

    0.8 s is long enough for the login to be over, so the query is what gets interrupted.
    """
    hung = replace(BASE, request="/SELECT pg_sleep(10)", negotiatetimeout=30)
    async with no_leaks():
        await cancel_ends_promptly(check_pgsql(Target(host, postgres_server.port), hung), 0.8, 2.0)
