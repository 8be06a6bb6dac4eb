"""Client TLS for checks: one shared context, session reuse per target, a cap on handshakes.

Checks do not verify certificates by default (SPEC Part A §6): a health check asks whether
the server answers, not whether its certificate chains to a public CA.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict

#: At most this many TLS handshakes run at once across all checks (they cost CPU).
MAX_CONCURRENT_HANDSHAKES = 64
_SESSION_CACHE_SIZE = 4096


class TlsClient:
    """A client context plus a bounded (host, port) -> ssl.SSLSession cache."""

    def __init__(self, *, verify: bool = False, max_handshakes: int = MAX_CONCURRENT_HANDSHAKES):
        ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.context = ctx
        self._sessions: OrderedDict[tuple[str, int], ssl.SSLSession] = OrderedDict()
        self._slots: asyncio.Semaphore | None = None
        self._max = max_handshakes

    @property
    def handshake_slots(self) -> asyncio.Semaphore:
        """Semaphore bounding concurrent handshakes (created lazily inside the running loop)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max)
        return self._slots

    def session_for(self, host: str, port: int) -> ssl.SSLSession | None:
        return self._sessions.get((host, port))

    def remember(self, host: str, port: int, session: ssl.SSLSession | None) -> None:
        if session is None:
            return
        key = (host, port)
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        while len(self._sessions) > _SESSION_CACHE_SIZE:
            self._sessions.popitem(last=False)

    def forget(self, host: str, port: int) -> None:
        self._sessions.pop((host, port), None)


_default: TlsClient | None = None


def default_client() -> TlsClient:
    """The process-wide TLS client used by checks unless a test passes its own."""
    global _default
    if _default is None:
        _default = TlsClient()
    return _default
