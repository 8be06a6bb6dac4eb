"""The http, https and http_proxy checks: one GET or HEAD on aiohttp's client, judged like LWP.

Behaviour (SPEC Part B §3.3 first bullet, §3.5, Part A §6):

- URL `<scheme>://<netloc>/<request without its leading />`; a request that is already an
  absolute URL of the same scheme (a per-real request) is used as it is.
- Host header: `virtualhost` if set, else the URL's host without a port (IPv6 bracketed).
  https sends SNI only when `virtualhost` is set and never verifies certificates (tls.py).
- http_proxy: the real server is the proxy, `request` must be an absolute URL fetched
  through it; the Host header is the URL's (as the original).
- Redirects are followed, up to 7 (LWP's default); the final response is judged: up iff the
  status is 2xx and `receive` (if any) matches the body. A HEAD response has no body, so a
  HEAD check with a `receive` is never up.
- The whole exchange is bounded by `negotiatetimeout`, matching `receive` included: the
  match runs off the event loop (checkers/match.py) once the connection is closed, with
  what is left of that time.
- Body bound: at most MAX_BODY bytes are read. A longer body is not an error (a large page
  is a working page): the check judges what it read and closes the connection, so a
  `receive` must match within the first MAX_BODY bytes.

Client settings, chosen against aiohttp's defaults: one shared session per event loop for
plain HTTP and one for TLS (created on first use, closed by `aclose_shared()` or when
asyncio.run() finishes the loop), each on a connector with `force_close`, and
`Connection: close` sent (every check proves the server still accepts a new connection,
and no idle connections pile up on real servers); no connection limit, no cookies, no
proxy from the environment (`trust_env=False`), no decompression (`receive` matches the
raw body, as the original's `$res->content`), aiohttp's own timeouts off (one
`asyncio.timeout` bounds all). A session per check costs a large share of an http check's
CPU (bench/checks.py measures it). No DNS cache: only a per-real
absolute URL names a host, and it is resolved on every check (as the original does), in
aiohttp's resolver thread. The TLS context comes with each request, so checks with
different TlsClients share a session; TLS sessions are reused through tls.py, not
through the connector.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp
from yarl import URL

from checkers.base import CheckSpec, Down, Result, Target, bounded
from checkers.http_errors import describe
from checkers.match import MatchTimeout, search
from checkers.tls import TlsClient, current_client
from ldirectord import __version__
from ldirectord.config.model import HttpMethod, Service
from ldirectord.netloc import bracketed

USER_AGENT = f"ldirectord/{__version__} (health check)"
#: Most body bytes a check reads; `receive` is matched against at most this much.
MAX_BODY = 1024 * 1024
#: Redirects followed before giving up, as LWP::UserAgent's max_redirect.
MAX_REDIRECTS = 7

_NO_TIMEOUTS = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None,
                                     sock_connect=None)
_CHUNK = 64 * 1024
_HEADERS = {"User-Agent": USER_AGENT, "Connection": "close"}


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one check will request: the URL, the Host header, SNI and the proxy."""

    url: URL
    host_header: str | None  # None: aiohttp derives it from the URL
    sni: str | None
    proxy: URL | None


_DOTTED = frozenset("0123456789.")
_DROPPED = frozenset("\t\n\r")  # yarl drops these from a URL before parsing it


def url_on(scheme: str, target: Target, path: str) -> URL:
    """`URL(f"{scheme}://{target.netloc}/{path}")`, built from parts where that is the same.

    A check parses a new string for every real (yarl's cache holds few), which costs more
    than the rest of planning; the path alone repeats across reals and stays cached. Only a
    dotted host is used as it is: yarl rewrites IPv6 literals and names to a canonical form.
    Paths parse differently alone when they start with `/` (a host), have dot segments (only
    an absolute URL's are resolved) or tabs or line breaks (dropped, so `\t/` starts `//`).
    """
    if (path.startswith("/") or "/." in f"/{path}" or "%2e" in path.lower()
            or not _DROPPED.isdisjoint(path) or not _DOTTED.issuperset(target.host)):
        return URL(f"{scheme}://{target.netloc}/{path}")
    ref = URL(f"/{path}")
    return URL.build(scheme=scheme, authority=target.netloc, path=ref.raw_path,
                     query_string=ref.raw_query_string, fragment=ref.raw_fragment,
                     encoded=True)


def plan_request(target: Target, spec: CheckSpec) -> _Plan | str:
    """The request for `spec` against `target`, or a detail saying why there is none."""
    request = spec.request
    if spec.service is Service.HTTP_PROXY:
        if not request.lower().startswith(("http://", "https://")):
            return "http_proxy needs an absolute http:// or https:// request URL"
        url = URL(request)
        return _Plan(url, None, None, URL(f"http://{target.netloc}"))
    scheme = "https" if spec.service is Service.HTTPS else "http"
    if request.lower().startswith(f"{scheme}://"):
        url = URL(request)
    else:
        url = url_on(scheme, target, request[1:] if request.startswith("/") else request)
    host_header = spec.virtualhost or bracketed(url.raw_host or target.host)
    sni = spec.virtualhost if scheme == "https" else None
    return _Plan(url, host_header, sni, None)


async def _read_bounded(resp: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """Up to MAX_BODY bytes of the body, and whether the body went on beyond them."""
    chunks: list[bytes] = []
    size = 0
    content = resp.content
    while size < MAX_BODY:
        chunk = await content.read(min(_CHUNK, MAX_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if content.at_eof():  # a small page usually arrives whole: no read to learn the end
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks), not content.at_eof()


@dataclass(frozen=True, slots=True)
class _Reply:
    """The final response of an exchange: what `_judge` looks at."""

    status: int
    reason: str
    body: bytes
    truncated: bool  # the body went on beyond MAX_BODY


async def _judge(reply: _Reply, spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    status = f"{reply.status} {reply.reason}".rstrip()
    if not 200 <= reply.status < 300:
        return False, f"HTTP {status}"
    if spec.receive is None:
        return True, status
    if spec.httpmethod is HttpMethod.HEAD:
        return False, f"HTTP {status}: a HEAD response has no body to match receive"
    try:
        matched = await search(spec.receive, reply.body, deadline, spec.negotiatetimeout)
    except MatchTimeout as exc:
        return False, exc.detail
    if not matched:
        where = f" in the first {MAX_BODY // 1024} KiB" if reply.truncated else ""
        return False, f"receive did not match{where} (HTTP {status})"
    return True, status


async def _trace_start(_s: aiohttp.ClientSession, ctx: SimpleNamespace,
                       _p: aiohttp.TraceConnectionCreateStartParams) -> None:
    await ctx.trace_request_ctx.acquire()


async def _trace_end(_s: aiohttp.ClientSession, ctx: SimpleNamespace,
                     _p: aiohttp.TraceConnectionCreateEndParams) -> None:
    ctx.trace_request_ctx.release()


class _Slot:
    """Holds a handshake slot from connection start to connection made (or to the end)."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = False

    async def acquire(self) -> None:
        await self._slots.acquire()
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()


def _handshake_trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_start.append(_trace_start)
    trace.on_connection_create_end.append(_trace_end)
    trace.freeze()
    return trace


_HANDSHAKE_TRACE = _handshake_trace()


class _Sessions:
    """The shared sessions of one event loop: plain HTTP, and TLS with the handshake cap."""

    __slots__ = ("_closer", "loop", "plain", "tls")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.plain = _session(trace=False)
        self.tls = _session(trace=True)
        self._closer = self._close_at_loop_shutdown()

    async def watch_loop(self) -> None:
        """Have the sessions closed when asyncio.run() or a Runner finishes the loop."""
        # Iterating an async generator registers it with the running loop, which closes
        # the suspended ones before it stops (shutdown_asyncgens): a program that never
        # calls aclose_shared() does not end with unclosed-session errors.
        await anext(self._closer)

    async def _close_at_loop_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self._close_sessions()

    async def aclose(self) -> None:
        try:
            await self._closer.aclose()
        finally:  # also when the generator never ran
            await self._close_sessions()

    async def _close_sessions(self) -> None:
        if _SHARED.get(self.loop) is self:
            del _SHARED[self.loop]
        # Closing the first must not skip the second, whatever it raises or if cancelled.
        # Neither waits: with force_close no connection is kept open between checks.
        try:
            await self.plain.close()
        finally:
            await self.tls.close()


def _session(*, trace: bool) -> aiohttp.ClientSession:
    # force_close: a check must prove the server accepts a new connection, and no idle
    # connection is left on a real server. use_dns_cache off: a per-real URL naming a host is
    # resolved on every check, as the original does. No connection limit: the daemon bounds
    # its checks itself. The TLS context comes with each request (tests use their own).
    connector = aiohttp.TCPConnector(limit=0, force_close=True, use_dns_cache=False,
                                     enable_cleanup_closed=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=_NO_TIMEOUTS,
        trust_env=False,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("Accept-Encoding",),
        # Signals cost CPU on every request; only TLS checks need them (handshake slots).
        trace_configs=[_HANDSHAKE_TRACE] if trace else None,
    )


# The open sessions of each event loop that ran a check: the daemon has one loop, tests
# and the benchmark run several in turn.
_SHARED: dict[asyncio.AbstractEventLoop, _Sessions] = {}


async def _shared() -> _Sessions:
    loop = asyncio.get_running_loop()
    sessions = _SHARED.get(loop)
    if sessions is None:
        sessions = _SHARED[loop] = _Sessions(loop)
        await sessions.watch_loop()
        for dead in [s for lp, s in _SHARED.items() if lp.is_closed()]:
            # A loop closed without shutting down its async generators (loop.close()
            # alone): its sessions hold no connection, so closing them here only marks
            # them closed (no unclosed-session error when they are collected).
            await dead.aclose()
    return sessions


async def aclose_shared() -> None:
    """Close the current event loop's shared HTTP sessions, for a program that keeps its
    loop running (tests, the benchmark); asyncio.run() closes them when it finishes the
    loop, which is how the daemon's sessions are closed at stop.

    The next check on the loop opens new ones, so calling it is always safe; checks still
    running on the loop fail with a closed connection.
    """
    sessions = _SHARED.get(asyncio.get_running_loop())
    if sessions is not None:
        await sessions.aclose()


async def _exchange(plan: _Plan, spec: CheckSpec, tls: TlsClient, slot: _Slot | None
                    ) -> _Reply:
    headers = _HEADERS if plan.host_header is None else {**_HEADERS, "Host": plan.host_header}
    sessions = await _shared()
    session = sessions.plain if slot is None else sessions.tls
    async with session.request(
        spec.httpmethod.value,
        plan.url,
        headers=headers,
        proxy=plan.proxy,
        ssl=tls.context,  # also for an http check redirected to https: never verified
        server_hostname=plan.sni,
        max_redirects=MAX_REDIRECTS + 1,  # aiohttp counts the response that exceeds
        trace_request_ctx=slot,
    ) as resp:
        body, truncated = await _read_bounded(resp)
        return _Reply(resp.status, resp.reason or "", body, truncated)


async def _check(target: Target, spec: CheckSpec) -> Result:
    try:
        plan = plan_request(target, spec)
    except ValueError as exc:  # a per-real request URL that yarl cannot parse
        plan = f"invalid request URL: {exc}"
    if isinstance(plan, str):
        return Result(False, plan, 0.0)
    deadline = asyncio.get_running_loop().time() + spec.negotiatetimeout
    return await bounded(spec.negotiatetimeout, _fetch(target, spec, plan, deadline))


async def _fetch(target: Target, spec: CheckSpec, plan: _Plan, deadline: float
                 ) -> tuple[bool, str]:
    client = current_client()
    uses_tls = plan.url.scheme == "https"
    slot = _Slot(client.handshake_slots) if uses_tls else None
    try:
        async with asyncio.timeout_at(deadline):
            if uses_tls:
                host = plan.url.raw_host or target.host
                with client.resuming(host, plan.url.port or 443, plan.sni):
                    reply = await _exchange(plan, spec, client, slot)
            else:
                reply = await _exchange(plan, spec, client, slot)
    except TimeoutError:
        raise
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise Down(describe(exc)) from None
    finally:
        if slot is not None:
            slot.release()
    return await _judge(reply, spec, deadline)


async def check_http(target: Target, spec: CheckSpec) -> Result:
    """service=http: GET/HEAD http://<real>/<request>; up on 2xx with `receive` matched."""
    return await _check(target, spec)


async def check_https(target: Target, spec: CheckSpec) -> Result:
    """service=https: as http over TLS (no verification; SNI only with virtualhost)."""
    return await _check(target, spec)


async def check_http_proxy(target: Target, spec: CheckSpec) -> Result:
    """service=http_proxy: fetch the absolute `request` URL through the real as a proxy."""
    return await _check(target, spec)
