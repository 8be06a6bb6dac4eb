"""The toolkit words every failure as docs/checks.md says: its table, row by row."""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Awaitable, Callable

import pytest

from checkers.base import Result, bounded, matching
from tests.checks_doc import Entry, documented, generic, own


def _tls_error() -> ssl.SSLError:
    """What OpenSSL raises when the server answers a handshake with plain text."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    incoming.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    try:
        tls.do_handshake()
    except ssl.SSLError as exc:
        return exc
    raise AssertionError("the handshake did not fail")


async def _raises(exc: BaseException) -> tuple[bool, str]:
    raise exc


async def _matches_forever() -> tuple[bool, str]:
    with matching():
        await asyncio.sleep(60)
    return True, "matched"


async def _stalls() -> tuple[bool, str]:
    await asyncio.sleep(60)
    return True, "answered"


#: For each situation of the table: the limit of the check and the work that meets it.
#: The two that run out of time run with a limit a hundred times shorter than the example's.
SITUATIONS: dict[str, tuple[float, Callable[[], Awaitable[tuple[bool, str]]]]] = {
    "time out": (5.0, _stalls),
    "receive still matching": (2.5, _matches_forever),
    "refused": (5.0, lambda: _raises(ConnectionRefusedError(
        errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)"))),
    "reset": (5.0, lambda: _raises(ConnectionResetError(errno.ECONNRESET, "reset by peer"))),
    "broken pipe": (5.0, lambda: _raises(BrokenPipeError(errno.EPIPE, "Broken pipe"))),
    "TLS": (5.0, lambda: _raises(_tls_error())),
    "socket error": (5.0, lambda: _raises(OSError(
        errno.EHOSTUNREACH, "Connect call failed ('192.0.2.1', 80)"))),
}


def test_every_documented_situation_is_walked() -> None:
    assert {e.situation.split(":")[0] for e in generic()} == set(SITUATIONS)


@pytest.mark.asyncio
@pytest.mark.parametrize("entry", generic(), ids=lambda e: e.situation.split(":")[0])
async def test_every_check_row(entry: Entry) -> None:
    limit, work = SITUATIONS[entry.situation.split(":")[0]]
    short = limit / 100
    result = await bounded(short, work())
    assert isinstance(result, Result) and not result.ok
    assert result.detail == entry.example.replace(f"({limit:g}s)", f"({short:g}s)").replace(
        f"after {limit:g}s", f"after {short:g}s"), result
    assert entry.pattern().fullmatch(result.detail), result
    assert documented("simpletcp", result.detail) is entry.checkable


@pytest.mark.asyncio
async def test_a_named_check_puts_its_name_first() -> None:
    result = await bounded(5.0, _raises(ConnectionResetError(errno.ECONNRESET, "x")), name="POP")
    assert result.detail == "POP: connection reset by server"
    assert documented("pop", result.detail)
    assert not documented("pop", "connection reset by server")
    assert not documented("simpletcp", result.detail)


@pytest.mark.parametrize("service", ["dns", "ftp", "http", "https", "http_proxy", "imap",
                                     "imaps", "ldap", "ldaps", "mysql", "nntp", "pgsql", "pop",
                                     "pops", "radius", "simpletcp", "sip", "smtp",
                                     "submission"])
def test_every_check_has_its_section(service: str) -> None:
    assert own(service), service


def test_every_documented_detail_is_one_line() -> None:
    for entry in generic() + [e for s in ("dns", "ldap", "sip") for e in own(s)]:
        assert "\n" not in entry.text and entry.text.strip() == entry.text
