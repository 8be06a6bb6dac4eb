"""https checks against nginx: Host, SNI, no verification, session reuse, handshake cap.

nginx serves a throwaway trustme certificate for www.example.test, once with TLS 1.2 and 1.3
(resumption by tickets) and once with TLS 1.2 only (resumption by session ID). The failure
matrix of https lives in test_http.py with the other HTTP services.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import regex

from checkers.base import CheckSpec, Result, Target
from checkers.http import aclose_shared, check_https
from checkers.tls import TlsClient, use_client
from ldirectord.config.model import HttpMethod, Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    Recv,
    Stall,
    cpu_wait,
    no_leaks,
    refused_target,
    scripted_server,
)
from tests.protocols.servers_http import VIRTUALHOST, Nginx, run_nginx

TIMEOUT = 1.0  # for checks meant to time out
GENEROUS = 5.0  # for checks meant to succeed: a loaded CI machine must not fail them
HOSTS = ("127.0.0.1", "::1")


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with run_nginx(Path(tmp_path_factory.mktemp("nginx"))) as server:
        yield server


@pytest_asyncio.fixture(autouse=True)
async def close_shared_sessions() -> AsyncIterator[None]:
    # Each test runs on its own event loop; its shared sessions close with it.
    yield
    await aclose_shared()


def spec(request: str = "/echo", receive: bytes | None = None, *,
         virtualhost: str | None = None, httpmethod: HttpMethod = HttpMethod.GET,
         timeout: float = GENEROUS) -> CheckSpec:
    return CheckSpec(Service.HTTPS, request=request,
                     receive=regex.compile(receive) if receive is not None else None,
                     virtualhost=virtualhost, httpmethod=httpmethod,
                     negotiatetimeout=timeout, checktimeout=timeout)


async def run(target: Target, s: CheckSpec, tls: TlsClient | None = None) -> Result:
    loop = asyncio.get_running_loop()
    async with no_leaks():
        waited = cpu_wait()
        started = loop.time()
        with use_client(tls or TlsClient()):
            result = await check_https(target, s)
        wall = loop.time() - started
        lost = cpu_wait() - waited  # the machine's load: not the check's doing
    bound = s.negotiatetimeout + 0.5 + lost
    assert result.elapsed <= bound and wall <= bound, (wall, result)
    return result


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# (request, method, receive, virtualhost, expected ok, expected detail fragment)
ROWS = [
    ("/ok.html", HttpMethod.GET, rb"ldirectord-test-OK", None, True, "200 OK"),
    ("/ok.html", HttpMethod.GET, rb"no such text", None, False, "receive did not match"),
    ("/down", HttpMethod.GET, None, None, False, "HTTP 503"),
    ("/ok.html", HttpMethod.HEAD, None, None, True, "200 OK"),
    ("/chain/3", HttpMethod.GET, rb"end of chain", VIRTUALHOST, True, "200 OK"),
    # The certificate is self-signed for www.example.test: not verified, so up.
    ("/echo", HttpMethod.GET, rb"sni= ", None, True, "200 OK"),
    ("/echo", HttpMethod.GET, b"host=www.example.test sni=www.example.test ", VIRTUALHOST,
     True, "200 OK"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["https", "https12"])
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("request_", "method", "receive", "vhost", "ok", "detail"), ROWS)
async def test_https_nginx(nginx: Nginx, role: str, host: str, request_: str,
                           method: HttpMethod, receive: bytes | None, vhost: str | None,
                           ok: bool, detail: str) -> None:
    s = spec(request_, receive, virtualhost=vhost, httpmethod=method)
    result = await run(nginx.target(role, host), s)
    assert result.ok is ok, result
    assert detail in result.detail, result
    assert result.ok or documented("https", result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_host_header_without_virtualhost_is_the_address(nginx: Nginx, host: str) -> None:
    s = spec(receive=re.escape(f"host={bracket(host)} sni= ".encode()))
    assert (await run(nginx.target("https", host), s)).ok


@pytest.mark.asyncio
@pytest.mark.parametrize(("role", "proto"), [("https", b"TLSv1.3"), ("https12", b"TLSv1.2")])
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("vhost", [None, VIRTUALHOST])
async def test_session_is_reused(nginx: Nginx, role: str, proto: bytes, host: str,
                                 vhost: str | None) -> None:
    tls = TlsClient()
    target = nginx.target(role, host)
    first = await run(target, spec(receive=rb"reused=\. proto=" + proto, virtualhost=vhost), tls)
    assert first.ok, first
    for _ in range(2):
        again = await run(target, spec(receive=rb"reused=r proto=" + proto, virtualhost=vhost),
                          tls)
        assert again.ok, again


@pytest.mark.asyncio
async def test_no_session_reuse_across_sni(nginx: Nginx) -> None:
    # A session got with one SNI is not offered for another name or for no name.
    tls = TlsClient()
    target = nginx.target("https", "127.0.0.1")
    assert (await run(target, spec(receive=rb"reused=\.", virtualhost=VIRTUALHOST), tls)).ok
    assert (await run(target, spec(receive=rb"reused=\."), tls)).ok
    assert (await run(target, spec(receive=rb"reused=r", virtualhost=VIRTUALHOST), tls)).ok


@pytest.mark.asyncio
async def test_verifying_client_rejects_the_self_signed_certificate(nginx: Nginx) -> None:
    result = await run(nginx.target("https", "127.0.0.1"), spec(), TlsClient(verify=True))
    assert not result.ok
    assert result.detail.startswith("TLS certificate rejected"), result


@pytest.mark.asyncio
async def test_each_check_uses_its_own_tls_client_on_the_shared_session(nginx: Nginx) -> None:
    # All checks of a loop share one session; the TLS settings still come from each check.
    target = nginx.target("https", "127.0.0.1")
    lax, strict = TlsClient(), TlsClient(verify=True)
    outcomes = [(await run(target, spec(), tls)).ok for tls in (lax, strict, lax, strict)]
    assert outcomes == [True, False, True, False]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_absolute_https_request_is_used_verbatim(nginx: Nginx, host: str) -> None:
    url = f"https://{bracket(host)}:{nginx.https[host]}/ok.html"
    result = await run(refused_target(host), spec(url, rb"test-OK"))
    assert result.ok, result


@pytest.mark.asyncio
async def test_handshake_slot_is_released_after_failures(nginx: Nginx) -> None:
    # One slot only: a failed or timed-out handshake that kept it would starve the next.
    tls = TlsClient(max_handshakes=1)
    assert not (await run(refused_target(), spec(), tls)).ok
    async with no_leaks(), scripted_server([Recv(), Stall()]) as stalled:
        with use_client(tls):
            stalled_result = await check_https(stalled, spec(timeout=TIMEOUT))
        assert stalled_result.detail == f"timeout after {TIMEOUT:g}s", stalled_result
    assert (await run(nginx.target("https", "127.0.0.1"), spec(), tls)).ok
    assert not tls.handshake_slots.locked()


@pytest.mark.asyncio
async def test_handshakes_are_capped(nginx: Nginx) -> None:
    # With one slot, a handshake stalled by a silent peer holds up the next check's until
    # it times out: the second check finishes after the first, and still succeeds.
    tls = TlsClient(max_handshakes=1)
    finished: list[str] = []
    async with no_leaks(), scripted_server([Recv(), Stall()]) as stalled:
        with use_client(tls):  # the task takes the client along
            slow = asyncio.create_task(check_https(stalled, spec(timeout=TIMEOUT)))
        slow.add_done_callback(lambda _t: finished.append("stalled"))
        deadline = asyncio.get_running_loop().time() + 5
        while not tls.handshake_slots.locked():  # until the first check holds the slot
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.005)
        with use_client(tls):
            fast = await check_https(nginx.target("https", "127.0.0.1"), spec())
        finished.append("nginx")
        stalled_result = await slow
    assert "timeout" in stalled_result.detail
    assert fast.ok, fast
    assert finished == ["stalled", "nginx"]
