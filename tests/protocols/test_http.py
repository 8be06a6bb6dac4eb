"""http and http_proxy checks against nginx; the failure matrix of all three HTTP services.

The up, wrong-receive, status, redirect, HEAD, Host and body-bound rows run against Debian's
nginx (tests/protocols/servers_http.py); refused, black-holed, stalled, reset, garbage and
oversized replies, and the stalled TLS handshake, come from the scripted peers of faults.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

import checkers.http as http_module
from checkers.base import CheckSpec, Result, Target
from checkers.http import (
    MAX_REDIRECTS,
    USER_AGENT,
    aclose_shared,
    check_http,
    check_http_proxy,
    check_https,
    plan_request,
    url_on,
)
from ldirectord.config.model import HttpMethod, Service
from tests.checks_doc import documented
from tests.protocols import faults
from tests.protocols.faults import (
    BLACKHOLE,
    Recv,
    Reset,
    Send,
    Stall,
    Step,
    cpu_wait,
    garbage,
    no_leaks,
    oversized,
    refused_target,
    scripted_server,
)
from tests.protocols.servers_http import BIG_HEAD, BIG_TAIL, VIRTUALHOST, Nginx, run_nginx

TIMEOUT = 1.0  # for checks meant to time out
GENEROUS = 5.0  # for checks meant to succeed: a loaded CI machine must not fail them
HOSTS = ("127.0.0.1", "::1")
CHECKERS = {Service.HTTP: check_http, Service.HTTPS: check_https,
            Service.HTTP_PROXY: check_http_proxy}


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with run_nginx(Path(tmp_path_factory.mktemp("nginx"))) as server:
        yield server


@pytest_asyncio.fixture(autouse=True)
async def close_shared_sessions() -> AsyncIterator[None]:
    # Each test runs on its own event loop; its shared sessions close with it.
    yield
    await aclose_shared()


def spec(service: Service = Service.HTTP, request: str = "/", receive: bytes | None = None,
         httpmethod: HttpMethod = HttpMethod.GET, virtualhost: str | None = None,
         timeout: float = GENEROUS) -> CheckSpec:
    pattern = regex.compile(receive) if receive is not None else None
    return CheckSpec(service, request=request, receive=pattern, httpmethod=httpmethod,
                     virtualhost=virtualhost, negotiatetimeout=timeout, checktimeout=timeout)


async def _timed(service: Service, target: Target,
                 s: CheckSpec) -> tuple[Result, float, float]:
    """The result, the wall time and the part of it the machine's load took (`cpu_wait`)."""
    loop = asyncio.get_running_loop()
    waited = cpu_wait()
    started = loop.time()
    result = await CHECKERS[service](target, s)
    return result, loop.time() - started, cpu_wait() - waited


async def run(service: Service, target: Target, s: CheckSpec) -> Result:
    """One check, asserting the time bound and that it leaves no socket or task behind."""
    async with no_leaks():
        result, wall, lost = await _timed(service, target, s)
    assert result.elapsed <= s.negotiatetimeout + 0.5 + lost, result
    assert wall <= s.negotiatetimeout + 0.5 + lost, (wall, result)
    return result


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --- http against nginx -----------------------------------------------------------------

# (request, method, receive, virtualhost, expected ok, expected detail fragment)
NGINX_ROWS = [
    ("/ok.html", HttpMethod.GET, rb"ldirectord-test-OK", None, True, "200 OK"),
    ("ok.html", HttpMethod.GET, rb"ldirectord-test-OK", None, True, "200 OK"),
    ("/ok.html", HttpMethod.GET, None, None, True, "200 OK"),
    ("/ok.html", HttpMethod.GET, rb"no such text", None, False, "receive did not match"),
    ("/wrong.html", HttpMethod.GET, rb"ldirectord-test-OK", None, False, "receive did not match"),
    ("/down", HttpMethod.GET, None, None, False, "HTTP 503 "),
    ("/missing.html", HttpMethod.GET, None, None, False, "HTTP 404 Not Found"),
    ("/ok.html", HttpMethod.HEAD, None, None, True, "200 OK"),
    ("/down", HttpMethod.HEAD, None, None, False, "HTTP 503"),
    ("/ok.html", HttpMethod.HEAD, rb"ldirectord-test-OK", None, False, "no body"),
    (f"/chain/{MAX_REDIRECTS}", HttpMethod.GET, rb"^end of chain$", None, True, "200 OK"),
    (f"/chain/{MAX_REDIRECTS + 1}", HttpMethod.GET, None, None, False, "too many redirects"),
    ("/chain/2", HttpMethod.GET, rb"end", VIRTUALHOST, True, "200 OK"),
    ("/big.bin", HttpMethod.GET, BIG_HEAD, None, True, "200 OK"),
    ("/big.bin", HttpMethod.GET, BIG_TAIL, None, False, "receive did not match in the first"),
    ("/echo", HttpMethod.GET, re.escape(b"ua=" + USER_AGENT.encode() + b" conn=close "),
     None, True, "200 OK"),
    ("/echo", HttpMethod.GET, b"host=" + VIRTUALHOST.encode() + b" ", VIRTUALHOST, True, "200"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("request_", "method", "receive", "vhost", "ok", "detail"), NGINX_ROWS)
async def test_http_nginx(nginx: Nginx, host: str, request_: str, method: HttpMethod,
                          receive: bytes | None, vhost: str | None, ok: bool, detail: str) -> None:
    s = spec(request=request_, receive=receive, httpmethod=method, virtualhost=vhost)
    result = await run(Service.HTTP, nginx.target("http", host), s)
    assert (result.ok, detail in result.detail) == (ok, True), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_http_host_header_is_the_real_address(nginx: Nginx, host: str) -> None:
    # No virtualhost: the real's address, without the port, IPv6 in brackets.
    expect = re.escape(f"host={bracket(host)} ".encode())
    result = await run(Service.HTTP, nginx.target("http", host), spec(request="/echo",
                                                                       receive=expect))
    assert result.ok, result


@pytest.mark.asyncio
async def test_http_ignores_proxy_environment_and_asks_for_no_encoding(
        nginx: Nginx, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy in the environment must never be used (the check goes to the real itself),
    # and the body is matched as sent, so no compression is asked for.
    dead = f"http://{refused_target().netloc}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    result = await run(Service.HTTP, nginx.target("http", "127.0.0.1"),
                       spec(request="/echo", receive=rb" via= ae= method=GET"))
    assert result.ok, result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_http_absolute_request_is_used_verbatim(nginx: Nginx, host: str) -> None:
    # A per-real request naming a full URL sends the probe there, not to the target.
    url = f"http://{bracket(host)}:{nginx.http[host]}/ok.html"
    result = await run(Service.HTTP, refused_target(host), spec(request=url,
                                                                receive=rb"test-OK"))
    assert result.ok, result


# --- http_proxy against nginx as a forward proxy -----------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("proxy_host", HOSTS)
@pytest.mark.parametrize("origin_host", HOSTS)
async def test_http_proxy_fetches_through_the_real(nginx: Nginx, proxy_host: str,
                                                   origin_host: str) -> None:
    url = f"http://{bracket(origin_host)}:{nginx.http[origin_host]}/echo"
    s = spec(Service.HTTP_PROXY, request=url, receive=rb" via=yes ")
    result = await run(Service.HTTP_PROXY, nginx.target("proxy", proxy_host), s)
    assert (result.ok, result.detail) == (True, "200 OK"), result


@pytest.mark.asyncio
@pytest.mark.parametrize("proxy_host", HOSTS)
async def test_http_proxy_reports_the_proxys_error(nginx: Nginx, proxy_host: str) -> None:
    origin = refused_target()
    s = spec(Service.HTTP_PROXY, request=f"http://{origin.netloc}/")
    result = await run(Service.HTTP_PROXY, nginx.target("proxy", proxy_host), s)
    assert (result.ok, result.detail) == (False, "HTTP 502 Bad Gateway"), result


@pytest.mark.asyncio
async def test_http_proxy_needs_an_absolute_url(nginx: Nginx) -> None:
    s = spec(Service.HTTP_PROXY, request="/echo")
    result = await run(Service.HTTP_PROXY, nginx.target("proxy", "127.0.0.1"), s)
    assert not result.ok and "absolute" in result.detail, result


# --- the failure matrix: refused, black-holed, stalled, reset, garbage, oversized ---------

REPLY_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
# (name, steps, services, receive, expected ok, expected detail fragment)
MATRIX: list[tuple[str, Sequence[Step], tuple[Service, ...], bytes | None, bool, str]] = [
    ("blackholed", BLACKHOLE, tuple(CHECKERS), None, False, f"timeout after {TIMEOUT:g}s"),
    ("stalled in headers", [Recv(), Send(REPLY_HEAD), Stall()],
     (Service.HTTP, Service.HTTP_PROXY), None, False, f"timeout after {TIMEOUT:g}s"),
    ("stalled in body", [Recv(), Send(REPLY_HEAD + b"Content-Length: 100\r\n\r\npart"), Stall()],
     (Service.HTTP, Service.HTTP_PROXY), None, False, f"timeout after {TIMEOUT:g}s"),
    ("reset in headers", [Recv(), Send(REPLY_HEAD), Reset()],
     (Service.HTTP, Service.HTTP_PROXY), None, False, "connection reset by server"),
    ("reset in body", [Recv(), Send(REPLY_HEAD + b"Content-Length: 100\r\n\r\npart"), Reset()],
     (Service.HTTP, Service.HTTP_PROXY), None, False, "body incomplete"),
    ("closed before reply", [Recv(), faults.Close()],
     (Service.HTTP, Service.HTTP_PROXY), None, False, "server closed the connection"),
    ("garbage", [Recv(), garbage()], (Service.HTTP, Service.HTTP_PROXY), None, False,
     "bad HTTP response"),
    ("oversized header", [Recv(), oversized(REPLY_HEAD + b"X-Big: ")],
     (Service.HTTP, Service.HTTP_PROXY), None, False, "bad HTTP response"),
    # Over the body bound: judged on the first MAX_BODY bytes (see checkers/http.py).
    ("oversized body, no receive", [Recv(), oversized(REPLY_HEAD + b"\r\n")],
     (Service.HTTP, Service.HTTP_PROXY), None, True, "200 OK"),
    ("oversized body, receive beyond the bound", [Recv(), oversized(REPLY_HEAD + b"\r\n")],
     (Service.HTTP, Service.HTTP_PROXY), b"never", False, "receive did not match in the first"),
    ("stalled TLS handshake", [Recv(), Stall()], (Service.HTTPS,), None, False,
     f"timeout after {TIMEOUT:g}s"),
    ("reset in TLS handshake", [Recv(), Reset()], (Service.HTTPS,), None, False,
     "connection reset by server"),
    ("garbage for a ClientHello", [Recv(), garbage()], (Service.HTTPS,), None, False,
     "TLS handshake failed"),
    ("plain HTTP for a ClientHello", [Recv(), Send(REPLY_HEAD + b"\r\n"), faults.Close()],
     (Service.HTTPS,), None, False, "TLS handshake failed"),
]
MATRIX_CASES = [
    pytest.param(service, steps, receive, ok, detail, id=f"{service}-{name}")
    for name, steps, services, receive, ok, detail in MATRIX for service in services
]


def matrix_spec(service: Service, receive: bytes | None) -> CheckSpec:
    # For http_proxy the scripted peer is the proxy; the origin is never contacted.
    request = "http://192.0.2.1/health" if service is Service.HTTP_PROXY else "/health"
    return spec(service, request=request, receive=receive, timeout=TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("service", "steps", "receive", "ok", "detail"), MATRIX_CASES)
async def test_failure_matrix(service: Service, steps: Sequence[Step], receive: bytes | None,
                              ok: bool, detail: str, host: str) -> None:
    s = matrix_spec(service, receive)
    async with no_leaks():
        async with scripted_server(steps, host) as target:
            result, wall, lost = await _timed(service, target, s)
    assert result.elapsed <= s.negotiatetimeout + 0.5 + lost, result
    assert wall <= s.negotiatetimeout + 0.5 + lost, (wall, result)
    assert result.ok is ok, result
    assert detail in result.detail, result
    assert result.ok or documented(service.value, result.detail), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("service", list(CHECKERS))
async def test_refused(service: Service, host: str) -> None:
    result = await run(service, refused_target(host), matrix_spec(service, None))
    assert not result.ok
    assert result.detail.endswith("connection refused"), result
    if service is Service.HTTP_PROXY:
        assert result.detail == "proxy: connection refused"


@pytest.mark.asyncio
@pytest.mark.parametrize("service", list(CHECKERS))
async def test_cancelled_check_leaves_nothing_behind(service: Service) -> None:
    async with no_leaks(), scripted_server([Recv(), Stall()]) as target:
        before = faults._open_sockets()
        task = asyncio.create_task(CHECKERS[service](target, matrix_spec(service, None)))
        # Cancel once the check is connected (its socket and the peer's) and waiting.
        deadline = asyncio.get_running_loop().time() + 5
        while len(faults._open_sockets() - before) < 2:
            assert asyncio.get_running_loop().time() < deadline, "check never connected"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# --- the shared sessions: a new connection per check, closing, event loops ---------------

KEEPALIVE_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


@pytest.mark.asyncio
async def test_every_check_opens_a_new_connection() -> None:
    # The peer offers keep-alive, then answers nothing more on that connection: a second
    # check that reused it would time out instead of being answered on a new one.
    async with no_leaks(), scripted_server([Recv(), Send(KEEPALIVE_REPLY), Stall()]) as target:
        results = [await check_http(target, spec(request="/h", receive=b"^ok$",
                                                 timeout=TIMEOUT)) for _ in range(3)]
    assert [r.ok for r in results] == [True] * 3, results


@pytest.mark.asyncio
async def test_checks_work_again_after_aclose_shared(nginx: Nginx) -> None:
    target = nginx.target("http", "127.0.0.1")
    for _ in range(2):
        assert (await run(Service.HTTP, target, spec(request="/ok.html"))).ok
        await aclose_shared()
        await aclose_shared()  # closing twice, or with nothing open, is fine
    assert not http_module._SHARED


async def _check_keeping_sessions(target: Target) -> tuple[Result, list[aiohttp.ClientSession]]:
    result = await check_http(target, spec(request="/ok.html"))
    mine = http_module._SHARED[asyncio.get_running_loop()]
    return result, [mine.plain, mine.tls]


def test_asyncio_run_closes_the_sessions_of_its_loop(nginx: Nginx) -> None:
    # A program that never calls aclose_shared() must not end with unclosed sessions.
    result, sessions = asyncio.run(_check_keeping_sessions(nginx.target("http", "127.0.0.1")))
    assert result.ok, result
    assert all(s.closed for s in sessions)
    assert not http_module._SHARED


def test_a_closed_loops_sessions_are_closed_by_the_next_loop(nginx: Nginx) -> None:
    # A loop closed without shutting down its async generators leaves its sessions to the
    # next loop that checks.
    target = nginx.target("http", "127.0.0.1")
    loop = asyncio.new_event_loop()
    try:
        first, stale = loop.run_until_complete(_check_keeping_sessions(target))
    finally:
        loop.close()
    assert first.ok and not any(s.closed for s in stale)

    async def again() -> Result:
        try:
            return (await _check_keeping_sessions(target))[0]
        finally:
            await aclose_shared()

    assert asyncio.run(again()).ok
    assert all(s.closed for s in stale)
    assert not http_module._SHARED


# --- what is requested, without a server ---------------------------------------------------

V4, V6 = Target("10.0.0.5", 8080), Target("2001:db8::5", 443)
# (service, target, request, virtualhost, url, Host header, SNI, proxy)
PLANS = [
    (Service.HTTP, V4, "/", None, "http://10.0.0.5:8080/", "10.0.0.5", None, None),
    (Service.HTTP, V4, "/a/b?c=d", None, "http://10.0.0.5:8080/a/b?c=d", "10.0.0.5", None, None),
    (Service.HTTP, V4, "x.html", "www.example.test", "http://10.0.0.5:8080/x.html",
     "www.example.test", None, None),
    (Service.HTTPS, V6, "/", None, "https://[2001:db8::5]/", "[2001:db8::5]", None, None),
    (Service.HTTPS, V6, "/", "www.example.test", "https://[2001:db8::5]/",
     "www.example.test", "www.example.test", None),
    # A per-real absolute URL of the service's scheme is used as it is.
    (Service.HTTP, V4, "http://192.0.2.7:81/h", None, "http://192.0.2.7:81/h", "192.0.2.7",
     None, None),
    (Service.HTTPS, V4, "https://svc.example.test/h", None, "https://svc.example.test/h",
     "svc.example.test", None, None),
    # http_proxy: the real is the proxy; Host comes from the URL.
    (Service.HTTP_PROXY, V6, "http://192.0.2.7/h", "ignored.example.test", "http://192.0.2.7/h",
     None, None, "http://[2001:db8::5]:443"),
]


@pytest.mark.parametrize(("service", "target", "request_", "vhost", "url", "host_header", "sni",
                          "proxy"), PLANS)
def test_plan_request(service: Service, target: Target, request_: str, vhost: str | None,
                      url: str, host_header: str | None, sni: str | None,
                      proxy: str | None) -> None:
    plan = plan_request(target, CheckSpec(service, request=request_, virtualhost=vhost))
    assert not isinstance(plan, str), plan
    assert (str(plan.url), plan.host_header, plan.sni) == (url, host_header, sni)
    assert (str(plan.proxy) if plan.proxy else None) == proxy


@pytest.mark.asyncio
@pytest.mark.parametrize(("service", "request_", "detail"), [
    (Service.HTTP, "http://[zz/x", "invalid request URL"),
    (Service.HTTP_PROXY, "/relative", "needs an absolute"),
])
async def test_unusable_request_is_a_failed_check(service: Service, request_: str,
                                                  detail: str) -> None:
    result = await run(service, refused_target(), spec(service, request=request_))
    assert not result.ok and detail in result.detail, result


def _assert_url_on_is_the_parsed_url(host: str, port: int, scheme: str, path: str) -> None:
    # Building the URL from parts must give exactly what parsing the whole string gives.
    target = Target(host, port)
    try:
        parsed = URL(f"{scheme}://{target.netloc}/{path}")
    except ValueError:
        with pytest.raises(ValueError):
            url_on(scheme, target, path)
        return
    built = url_on(scheme, target, path)
    assert (built, str(built), built.raw_host, built.explicit_port, built.raw_path_qs) == (
        parsed, str(parsed), parsed.raw_host, parsed.explicit_port, parsed.raw_path_qs)


@pytest.mark.parametrize("path", [
    "", "a b?c=d#f", "%zz/%7E?q=%41+b", "a?b?c", "?x", "#f", "/x", "..//./a", "a%2Fb",
    "ü/ä?ö=ß", "a\\b", "%2E%2E/a/%2e/b/.x/..?q=/../#/./", "\t/x\n?\r",
])
def test_url_on_is_the_parsed_url_for_tricky_paths(path: str) -> None:
    _assert_url_on_is_the_parsed_url("10.0.0.5", 80, "http", path)


@settings(max_examples=300)
@given(host=st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
                      st.from_regex(r"\A[0-9.]{1,15}\Z"), st.just("Example.TEST")),
       port=st.integers(1, 65535), scheme=st.sampled_from(["http", "https"]),
       path=st.text(st.characters(codec="utf-8"), max_size=30))
def test_url_on_is_the_parsed_url(host: str, port: int, scheme: str, path: str) -> None:
    _assert_url_on_is_the_parsed_url(host, port, scheme, path)
