"""A `receive` pattern that backtracks without end is one down check, and delays no other.

`^(a|aa)+$` against fifty a's and a `!` takes the regex engine longer than anyone waits
(the number of ways to split the a's doubles with every two more). nginx serves it as a
page, proftpd as a file, socat echoes it as a line; the checks run against those real
servers with the pattern compiled as the daemon compiles it (from the Perl text).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from checkers.base import CheckSpec, Result, Target
from checkers.ftp import check_ftp
from checkers.http import aclose_shared, check_http
from checkers.match import MatchTimeout, first_match, search
from checkers.simpletcp import check_simpletcp
from ldirectord.config.model import Service
from ldirectord.config.perlre import compile_perl_regex
from tests.protocols.faults import bounded_check, cancel_ends_promptly, no_leaks
from tests.protocols.servers_ftp import (
    FTP_PASSWORD,
    FTP_USER,
    PATHOLOGICAL_FILE,
    PATHOLOGICAL_TEXT,
    Proftpd,
    proftpd,
)
from tests.protocols.servers_http import Nginx, run_nginx
from tests.protocols.servers_tcp import EchoServer, echo_server

__all__ = ["echo_server", "proftpd"]  # the fixtures, imported so pytest finds them

SUBJECT = PATHOLOGICAL_TEXT  # fifty a's and a "!"
PATTERN = "^(a|aa)+$"
OTHER_PATTERN = "^(?:aa|a)+$"  # another virtual's pathological pattern
TIMEOUT = 1.0
GENEROUS = 5.0  # for checks meant to succeed: a loaded machine must not fail them
DETAIL = f"receive pattern took longer than the check timeout ({TIMEOUT:g}s)"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with run_nginx(Path(tmp_path_factory.mktemp("nginx"))) as server:
        (server.root / "pathological.txt").write_bytes(SUBJECT)
        (server.root / "x29.txt").write_bytes(b"x" * 29)
        yield server


@pytest_asyncio.fixture(autouse=True)
async def close_shared_sessions() -> AsyncIterator[None]:
    yield
    await aclose_shared()


def http_spec(request: str, receive: str, timeout: float) -> CheckSpec:
    return CheckSpec(Service.HTTP, request=request, receive=compile_perl_regex(receive),
                     negotiatetimeout=timeout, checktimeout=timeout)


PATHOLOGICAL = http_spec("/pathological.txt", PATTERN, TIMEOUT)
BENIGN = http_spec("/ok.html", "ldirectord-test-OK", GENEROUS)


@contextlib.asynccontextmanager
async def heartbeat(events: list[str]) -> AsyncIterator[None]:
    """Append "tick" to `events` at every turn of a task that only sleeps briefly: the
    ticks stop whenever something blocks the event loop."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(0.005)
            events.append("tick")

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def noted(name: str, check: Awaitable[Result], events: list[str]) -> Result:
    result = await check
    events.append(name)
    return result


def ticks_between(events: list[str], first: str, then: str) -> int:
    """Ticks between the last `first` event and the first `then` event after it."""
    start = len(events) - 1 - events[::-1].index(first)
    end = events.index(then, start)
    return events[start:end].count("tick")


@pytest.mark.asyncio
async def test_a_pathological_http_receive_is_down_within_the_timeout(nginx: Nginx) -> None:
    result = await bounded_check(check_http, nginx.target("http", "127.0.0.1"), PATHOLOGICAL)
    assert (result.ok, result.detail) == (False, DETAIL)


@pytest.mark.asyncio
async def test_the_pattern_python_re_backtracks_on_is_a_plain_mismatch(nginx: Nginx) -> None:
    # `re` takes about 12 s for this on 29 bytes; the regex package sees at once that
    # there is no "y" to match.
    spec = http_spec("/x29.txt", "^(x+x+)+y$", TIMEOUT)
    result = await bounded_check(check_http, nginx.target("http", "127.0.0.1"), spec)
    assert (result.ok, result.detail) == (False, "receive did not match (HTTP 200 OK)")


@pytest.mark.asyncio
async def test_a_pathological_receive_delays_no_other_check(nginx: Nginx) -> None:
    events: list[str] = []
    async with heartbeat(events):
        slow, fast = await asyncio.gather(
            noted("pathological", bounded_check(
                check_http, nginx.target("http", "127.0.0.1"), PATHOLOGICAL), events),
            noted("benign", bounded_check(
                check_http, nginx.target("http", "::1"), BENIGN, leak_guard=False), events))
    assert (slow.ok, slow.detail) == (False, DETAIL)
    assert fast.ok, fast
    assert events.index("benign") < events.index("pathological")
    # The event loop kept turning while the pattern was still being matched.
    assert ticks_between(events, "benign", "pathological") >= 3


@pytest.mark.asyncio
async def test_many_pathological_checks_at_once_starve_no_benign_one(nginx: Nginx) -> None:
    # Two virtuals with pathological patterns (four reals each) and one with a benign
    # pattern (three reals), all checked at the same moment.
    other = http_spec("/pathological.txt", OTHER_PATTERN, TIMEOUT)
    slow_target, fast_target = nginx.target("http", "127.0.0.1"), nginx.target("http", "::1")
    events: list[str] = []
    checks = [noted("pathological", bounded_check(check_http, slow_target, spec,
                                                  leak_guard=False), events)
              for spec in [PATHOLOGICAL] * 4 + [other] * 4]
    checks += [noted("benign", bounded_check(check_http, fast_target, BENIGN,
                                             leak_guard=False), events) for _ in range(3)]
    async with no_leaks(), heartbeat(events):
        results = await asyncio.gather(*checks)
    assert [(r.ok, r.detail) for r in results[:8]] == [(False, DETAIL)] * 8
    assert all(r.ok for r in results[8:]), results[8:]
    verdicts = [e for e in events if e != "tick"]
    assert verdicts == ["benign"] * 3 + ["pathological"] * 8
    assert ticks_between(events, "benign", "pathological") >= 3


@pytest.mark.asyncio
async def test_a_check_cancelled_in_a_pathological_match_ends_at_once(nginx: Nginx) -> None:
    # As a reload or stop cancels it; the match left in its thread ends at its own timeout.
    spec = replace(PATHOLOGICAL, negotiatetimeout=GENEROUS, checktimeout=GENEROUS)
    await cancel_ends_promptly(check_http(nginx.target("http", "127.0.0.1"), spec),
                               after=0.5, within=GENEROUS / 2)
    result = await bounded_check(check_http, nginx.target("http", "::1"), BENIGN)
    assert result.ok, result


# --- other services: the same bound --------------------------------------------------------

@pytest.mark.asyncio
async def test_a_pathological_ftp_receive_is_down_within_the_timeout(proftpd: Proftpd) -> None:
    spec = CheckSpec(Service.FTP, login=FTP_USER, passwd=FTP_PASSWORD,
                     request=PATHOLOGICAL_FILE, receive=compile_perl_regex(PATTERN),
                     negotiatetimeout=TIMEOUT)
    result = await bounded_check(check_ftp, Target("127.0.0.1", proftpd.port), spec)
    assert (result.ok, result.detail) == (False, DETAIL)


@pytest.mark.asyncio
async def test_a_pathological_simpletcp_receive_is_down_within_the_timeout(
        echo_server: EchoServer) -> None:
    # The echo server sends back the line we send (less its first character).
    spec = CheckSpec(Service.SIMPLETCP, request="/" + SUBJECT.decode(),
                     receive=compile_perl_regex(PATTERN), negotiatetimeout=TIMEOUT)
    result = await bounded_check(check_simpletcp, Target("127.0.0.1", echo_server.port), spec)
    assert (result.ok, result.detail) == (False, DETAIL)


@pytest.mark.asyncio
async def test_a_benign_ftp_receive_still_matches(proftpd: Proftpd) -> None:
    spec = CheckSpec(Service.FTP, login=FTP_USER, passwd=FTP_PASSWORD,
                     request=PATHOLOGICAL_FILE, receive=compile_perl_regex("^a{50}!"),
                     negotiatetimeout=GENEROUS)
    result = await bounded_check(check_ftp, Target("::1", proftpd.port), spec)
    assert (result.ok, result.detail) == (True, f"FTP RETR {PATHOLOGICAL_FILE}: receive matched")


@pytest.mark.asyncio
async def test_a_benign_simpletcp_receive_still_matches(echo_server: EchoServer) -> None:
    spec = CheckSpec(Service.SIMPLETCP, request="/" + SUBJECT.decode(),
                     receive=compile_perl_regex("^a{50}!"), negotiatetimeout=GENEROUS)
    result = await bounded_check(check_simpletcp, Target("::1", echo_server.port), spec)
    assert (result.ok, result.detail) == (True, f"received {SUBJECT.decode()!r}"), result


# --- the matching itself ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_first_match_names_the_first_subject_that_matches() -> None:
    loop = asyncio.get_running_loop()
    pattern = compile_perl_regex(r"^10\.")
    subjects = [b"192.0.2.1", b"10.1.2.3", b"10.0.0.1"]
    assert await first_match(pattern, subjects, loop.time() + GENEROUS, GENEROUS) == 1
    assert await first_match(pattern, [b"192.0.2.1"], loop.time() + GENEROUS, GENEROUS) is None


@pytest.mark.asyncio
async def test_a_pattern_that_ran_out_of_time_still_matches_other_replies() -> None:
    loop = asyncio.get_running_loop()
    pattern = compile_perl_regex(PATTERN)
    with pytest.raises(MatchTimeout, match=r"^receive pattern took longer than the check "
                                           r"timeout \(0\.25s\)$"):
        await search(pattern, SUBJECT, loop.time() + 0.25, 0.25)
    assert await search(pattern, b"aaaa", loop.time() + GENEROUS, GENEROUS)
    assert not await search(pattern, b"aaab", loop.time() + GENEROUS, GENEROUS)


@pytest.mark.asyncio
async def test_a_deadline_already_past_is_a_timeout_without_a_match() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(MatchTimeout):
        await search(compile_perl_regex("a"), b"a", loop.time(), 1.0)
