"""Client TLS for checks: one shared context, session reuse per target, a cap on handshakes.

Checks do not verify certificates by default (SPEC Part A §6): a health check asks whether
the server answers, not whether its certificate chains to a public CA.

Session reuse, the one way every TLS check (https, http_proxy, ldaps, imaps, pops) does it.
asyncio (and so aiohttp, `asyncio.open_connection(ssl=...)` and `start_tls`) creates its TLS
objects through `SSLContext.wrap_bio`, which it calls without a `session`. Our context
subclass offers the session of the innermost `TlsClient.resuming()` block of the calling
task instead, and records the TLS object it created, so the block can keep the session the
connection ended with (TLS 1.3 tickets arrive after the handshake) for the next check of
the same (host, port, SNI):

    client = current_client()
    with client.resuming(host, port, sni) as res:
        async with client.handshake_slots:
            reader, writer = await asyncio.open_connection(host, port, ssl=client.context,
                                                           server_hostname=sni)
        ...                 # res.reused tells whether the server accepted the session

A resumed handshake costs the client a fraction of a full one (no key exchange signature
check), which matters at thousands of TLS checks per interval. Offering a session is not
free: CPython copies it into the TLS object by serialising and parsing it again, peer
certificate included; resumption still saves more than that (bench/checks.py compares
the reuse and full-handshake rows).

Checks take their client from `current_client()`: the daemon's checks share one; a test or
the benchmark gives the checks of a block their own with `use_client()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ssl
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

#: At most this many TLS handshakes run at once across all checks (they cost CPU).
MAX_CONCURRENT_HANDSHAKES = 64
_SESSION_CACHE_SIZE = 4096

_Key = tuple[str, int, str | None]


@dataclass(slots=True)
class Resumption:
    """One check's view of session reuse: what was offered and the TLS object it went to."""

    offered: ssl.SSLSession | None
    ssl_object: ssl.SSLObject | None = None

    @property
    def reused(self) -> bool:
        """True if the last TLS connection of the block resumed the offered session."""
        return self.ssl_object is not None and self.ssl_object.session_reused


# The offer of the current task (contextvars follow tasks and call_soon callbacks, which is
# how asyncio's SSL protocol reaches wrap_bio from the connecting task).
_OFFER: contextvars.ContextVar[Resumption | None] = contextvars.ContextVar(
    "ldirectord_tls_offer", default=None)


class _OfferingContext(ssl.SSLContext):
    """An SSLContext whose wrap_bio offers the current block's session (see module doc)."""

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                 server_side: bool = False, server_hostname: str | bytes | None = None,
                 session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        offer = _OFFER.get()
        if offer is None or server_side:
            return super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        obj: ssl.SSLObject | None = None
        if session is None and offer.offered is not None:
            # A session the library refuses (another context, already used up) is no reason
            # to fail the check: fall back to a full handshake.
            with contextlib.suppress(ValueError):
                obj = super().wrap_bio(incoming, outgoing, server_side, server_hostname,
                                       offer.offered)
        if obj is None:
            obj = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        offer.ssl_object = obj
        return obj


def _resumable(session: ssl.SSLSession | None) -> bool:
    return session is not None and (session.has_ticket or bool(session.id))


class TlsClient:
    """A client context plus a bounded (host, port, sni) -> ssl.SSLSession cache."""

    def __init__(self, *, verify: bool = False, max_handshakes: int = MAX_CONCURRENT_HANDSHAKES):
        ctx = _OfferingContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            ctx.load_default_certs()
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.context: ssl.SSLContext = ctx
        self._sessions: OrderedDict[_Key, ssl.SSLSession] = OrderedDict()
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._max = max_handshakes

    @property
    def handshake_slots(self) -> asyncio.Semaphore:
        """Semaphore bounding concurrent handshakes (one per running event loop)."""
        # A Semaphore binds to the loop it first waits on; a process that runs several
        # loops in turn (tests, the benchmark) gets a fresh one per loop.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots = asyncio.Semaphore(self._max)
            self._slots_loop = loop
        return self._slots

    def session_for(self, host: str, port: int, *, sni: str | None = None
                    ) -> ssl.SSLSession | None:
        return self._sessions.get((host, port, sni))

    def remember(self, host: str, port: int, session: ssl.SSLSession | None, *,
                 sni: str | None = None) -> None:
        if session is None:
            return
        key = (host, port, sni)
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        while len(self._sessions) > _SESSION_CACHE_SIZE:
            self._sessions.popitem(last=False)

    def forget(self, host: str, port: int, *, sni: str | None = None) -> None:
        self._sessions.pop((host, port, sni), None)

    @contextlib.contextmanager
    def resuming(self, host: str, port: int, sni: str | None = None, *,
                 reuse: bool = True) -> Iterator[Resumption]:
        """Offer the cached session of (host, port, sni) to TLS connections made by
        `self.context` inside the block, and cache the session the last one ended with.

        A connection whose handshake did not complete drops the cached session. With
        `reuse=False` nothing is offered or cached (for measuring, or for servers that
        misbehave on resumption). Cancellation: the offer is withdrawn on any exit.
        """
        res = Resumption(self.session_for(host, port, sni=sni) if reuse else None)
        token = _OFFER.set(res)
        try:
            yield res
        finally:
            _OFFER.reset(token)
            # Reading a session copies it (CPython serialises and parses it again, peer
            # certificate included), so a resumed one is kept as it is: it stays valid
            # until the server stops accepting it, and then a full handshake replaces it.
            obj = res.ssl_object
            if reuse and obj is not None and not res.reused:
                if obj.version() is None:
                    # The handshake never completed: the server may have choked on the
                    # session offered, so the next check does a full handshake.
                    self.forget(host, port, sni=sni)
                else:
                    session = _session_of(obj)
                    if _resumable(session):
                        self.remember(host, port, session, sni=sni)


def _session_of(obj: ssl.SSLObject) -> ssl.SSLSession | None:
    try:
        return obj.session
    except (ValueError, ssl.SSLError):  # handshake never completed
        return None


_default: TlsClient | None = None
# The client a test or the benchmark chose for the checks of its block (see use_client).
_CHOSEN: contextvars.ContextVar[TlsClient | None] = contextvars.ContextVar(
    "ldirectord_tls_client", default=None)


def current_client() -> TlsClient:
    """The TLS client of the checks running here: the one `use_client` chose, else the
    process-wide one the daemon's checks share."""
    chosen = _CHOSEN.get()
    if chosen is not None:
        return chosen
    global _default
    if _default is None:
        _default = TlsClient()
    return _default


@contextlib.contextmanager
def use_client(client: TlsClient) -> Iterator[TlsClient]:
    """Have the checks of the block, and of tasks it starts, use `client` (its own session
    cache, verification or handshake cap: for tests and the benchmark)."""
    token = _CHOSEN.set(client)
    try:
        yield client
    finally:
        _CHOSEN.reset(token)
