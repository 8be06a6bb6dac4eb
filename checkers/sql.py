"""mysql and pgsql checks: log in, run the configured query, up iff it yields a row (SPEC §3.3).

As in the original, both `login` and a non-empty request (the SQL, one leading `/`
stripped) are required, else the check is down with the original's error text; `receive`
is unused; a statement that returns rows is up iff it returned at least one, one that
returns none (UPDATE ...) is up iff it affected at least one row, like DBI's `rows`.

Unlike the original, the whole exchange is bounded by `negotiatetimeout` (SPEC Part A §6):
a hung server never hangs the daemon. The drivers are optional extras, imported at load
time; without them the check is down and says which extra to install.

- MySQL: PyMySQL is synchronous, so it runs in a thread of its own (never the loop's
  shared executor, which a few hung servers could fill). We open the TCP connection
  ourselves on the loop and lend the socket to PyMySQL with read/write timeouts; when the
  deadline passes we shut the socket down, which wakes the thread at once, and wait for it.
  The result set is read whole, as DBD::mysql does (PyMySQL's unbuffered cursor cannot be
  abandoned cleanly); a health-check query is expected to be small.
- PostgreSQL: psycopg 3's asyncio API. Connecting is cancelled by the deadline. A running
  query is not cancelled (psycopg would then send a cancel request and wait up to 10 s
  more): the connection's socket is shut down instead, which ends the query with an error
  at once.

Error handling: every failure a server can cause becomes `Result(ok=False)`; driver
exceptions are caught broadly because a garbage reply can surface as any exception.
Cancellation: sockets, connections and the worker thread are released in `finally` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import os
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any, TypeVar

from checkers.base import CheckSpec, Result, Target, bounded, describe_os_error, one_line

T = TypeVar("T")

MISSING_ARGUMENTS = ("Error: Must specify a login and request string for MySQL, Oracle and "
                     "PostgreSQL checks. Not adding {host}.")
#: How long we wait for a worker (thread or task) to notice its socket was shut down;
#: short enough to keep the "within timeout + 0.5 s" promise.
_ABORT_GRACE = 0.4
#: Driver messages are long (a query's text, a hint): they get more room than most details.
_MAX_DETAIL = 200


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_pymysql = _optional("pymysql")
_psycopg = _optional("psycopg")


def sql_of(spec: CheckSpec) -> str:
    """The statement to run: the request with one leading `/` stripped."""
    return spec.request[1:] if spec.request.startswith("/") else spec.request


def _brief(text: str) -> str:
    return one_line(text, _MAX_DETAIL)


def _rows_verdict(has_rows: bool, returned_set: bool, rowcount: int) -> tuple[bool, str]:
    if returned_set:
        return (True, "query returned rows") if has_rows else (False, "query returned no rows")
    if rowcount > 0:
        return True, f"statement affected {rowcount} rows"
    return False, "statement returned no rows"


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


async def _in_thread(work: Callable[[], T], abort: Callable[[], None], name: str) -> T:
    """Run `work` in a new thread; if we stop waiting (deadline, cancel), `abort` it and wait."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, exc: BaseException | None) -> None:
        if done.done():
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(value)  # type: ignore[arg-type]

    def run() -> None:
        value: T | None = None
        error: BaseException | None = None
        try:
            value = work()
        except BaseException as exc:  # handed to the awaiting coroutine, not swallowed
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop may be closed by now
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        return await asyncio.shield(done)
    finally:
        if not done.done():
            abort()
            await asyncio.wait([done], timeout=_ABORT_GRACE)
        if done.done() and not done.cancelled():
            done.exception()  # retrieved: the result no longer matters


# --- MySQL -----------------------------------------------------------------------------


def _mysql_exchange(sock: socket.socket, target: Target, spec: CheckSpec,
                    timeout: float) -> tuple[bool, str]:
    """Blocking: log in over `sock` (already connected) and run the statement.

    The thread owns `sock` from here on and closes it, so the loop never closes a file
    descriptor another thread may still be blocked on.
    """
    assert _pymysql is not None
    conn = _pymysql.connections.Connection(
        host=target.host, port=target.port, user=spec.login, password=spec.passwd,
        database=spec.database or None, connect_timeout=timeout, read_timeout=timeout,
        write_timeout=timeout, autocommit=True, defer_connect=True,
    )
    try:
        conn.connect(sock)
        cursor = conn.cursor()
        cursor.execute(sql_of(spec))
        returned_set = cursor.description is not None
        has_rows = returned_set and cursor.fetchone() is not None
        return _rows_verdict(has_rows, returned_set, max(cursor.rowcount or 0, 0))
    except _pymysql.err.MySQLError as exc:
        args = exc.args
        if len(args) == 2 and isinstance(args[0], int):
            return False, _brief(f"MySQL error {args[0]}: {args[1]}")
        return False, _brief(f"MySQL error: {exc}")
    except OSError as exc:
        return False, describe_os_error(exc)
    except Exception as exc:  # PyMySQL parsing garbage can raise anything
        return False, _brief(f"not a MySQL server reply ({type(exc).__name__}: {exc})")
    finally:
        if conn.open:
            conn.close()
        sock.close()


async def _mysql(target: Target, spec: CheckSpec) -> tuple[bool, str]:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, (target.host, target.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(True)
    except BaseException:
        sock.close()
        raise
    # Per-operation timeouts as a second line of defence; the deadline is ours.
    timeout = spec.negotiatetimeout
    return await _in_thread(lambda: _mysql_exchange(sock, target, spec, timeout),
                            lambda: _shutdown(sock), "mysql-check")


# --- PostgreSQL ------------------------------------------------------------------------


_PG_WHERE = re.compile(r'^(?:connection failed: )?connection to server at "[^"]*", port \d+ '
                       r'failed: ')


def _pg_error(exc: Exception) -> str:
    assert _psycopg is not None
    if not isinstance(exc, _psycopg.Error):
        return _brief(f"not a PostgreSQL server reply ({type(exc).__name__}: {exc})")
    # libpq: 'connection to server at "RIP", port N failed: <what>\n\t<hint>': keep <what>.
    lines = str(exc).splitlines()
    text = _PG_WHERE.sub("", lines[0] if lines else "") or type(exc).__name__
    if text.startswith("Connection refused"):
        return "connection refused"
    return _brief(f"PostgreSQL error: {text}")


async def _pg_query(conn: Any, sql: str) -> tuple[bool, str]:
    async with conn.cursor() as cursor:
        await cursor.execute(sql)
        returned_set = cursor.description is not None
        has_rows = returned_set and await cursor.fetchone() is not None
        return _rows_verdict(has_rows, returned_set, max(cursor.rowcount, 0))


def _shutdown_fd(conn: Any) -> None:
    with contextlib.suppress(Exception):  # already closed: nothing to wake
        dup = socket.socket(fileno=os.dup(conn.fileno()))
        with dup:
            _shutdown(dup)


async def _pgsql(target: Target, spec: CheckSpec) -> tuple[bool, str]:
    assert _psycopg is not None
    params: dict[str, Any] = {
        "host": target.host, "port": target.port, "user": spec.login,
        "password": spec.passwd,
        # libpq's own connect timeout is whole seconds, at least 2: the deadline is ours.
        "connect_timeout": max(2, math.ceil(spec.negotiatetimeout)),
        "application_name": "ldirectord",
    }
    if spec.database:
        params["dbname"] = spec.database
    try:
        conn = await _psycopg.AsyncConnection.connect(autocommit=True, **params)
    except Exception as exc:
        return False, _pg_error(exc)
    try:
        query = asyncio.ensure_future(_pg_query(conn, sql_of(spec)))
        try:
            return await asyncio.shield(query)
        except Exception as exc:
            return False, _pg_error(exc)
        finally:
            if not query.done():
                _shutdown_fd(conn)
                await asyncio.wait([query], timeout=_ABORT_GRACE)
                query.cancel()
            if query.done() and not query.cancelled():
                query.exception()
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


# --- the checks ------------------------------------------------------------------------


async def _check(target: Target, spec: CheckSpec, driver: ModuleType | None, extra: str,
                 exchange: Callable[[Target, CheckSpec], Awaitable[tuple[bool, str]]]) -> Result:
    if not spec.login or not sql_of(spec):  # decided without a word to the server
        return Result(False, MISSING_ARGUMENTS.format(host=target.host), 0.0)
    if driver is None:
        return Result(False, f"{extra} support not installed: pip install ldirectord[{extra}]",
                      0.0)
    return await bounded(spec.negotiatetimeout, exchange(target, spec))


async def check_mysql(target: Target, spec: CheckSpec) -> Result:
    """Log in to MySQL/MariaDB and run the request; up iff it yields a row."""
    return await _check(target, spec, _pymysql, "mysql", _mysql)


async def check_pgsql(target: Target, spec: CheckSpec) -> Result:
    """Log in to PostgreSQL and run the request; up iff it yields a row."""
    return await _check(target, spec, _psycopg, "pgsql", _pgsql)
