"""The maintenance directory: a file named after a real forces it down (SPEC Part B §3.7).

Names looked up, in order: `<RIP>:<port>`, `<RIP>`, `<rdns>:<port>`, `<rdns>`,
`<short>:<port>`, `<short>` (IPv6 RIPs in brackets; `<short>` is the first label of the
reverse name, used only when that name matches `^[a-z][a-z0-9-]+\\.`). Reverse DNS runs in
the resolver's worker thread with a time bound and a short cache, so a slow resolver never
holds up the event loop or a check for longer than the bound.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from dataclasses import dataclass, field

from ldirectord.netloc import bracketed, netloc

_SHORT = re.compile(r"^([a-z][a-z0-9-]+)\.")
RDNS_TIMEOUT = 2.0
RDNS_TTL = 60.0
#: The directory is listed at most this often; all checks in between share the listing.
LISTING_TTL = 0.5


def candidate_names(host: str, port: int, rdns: str | None) -> list[str]:
    """The file names that put `host:port` in maintenance, in the original's order."""
    names = [netloc(host, port), bracketed(host)]
    if rdns:
        names += [f"{rdns}:{port}", rdns]
        m = _SHORT.match(rdns)
        if m:
            names += [f"{m.group(1)}:{port}", m.group(1)]
    return names


@dataclass
class Maintenance:
    """Looks up the maintenance directory, caching its listing briefly and reverse names longer."""

    directory: str
    _cache: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    _listing: tuple[float, frozenset[str]] | None = None

    async def names(self) -> frozenset[str]:
        """The directory's entries (empty if it cannot be read), from a short-lived cache."""
        now = asyncio.get_running_loop().time()
        if self._listing is not None and now - self._listing[0] < LISTING_TTL:
            return self._listing[1]
        try:
            present = frozenset(await asyncio.to_thread(os.listdir, self.directory))
        except OSError:
            present = frozenset()
        self._listing = (now, present)
        return present

    async def reverse_name(self, host: str) -> str | None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        cached = self._cache.get(host)
        if cached is not None and now - cached[0] < RDNS_TTL:
            return cached[1]
        name: str | None
        try:
            async with asyncio.timeout(RDNS_TIMEOUT):
                name, _ = await loop.getnameinfo((host, 0), socket.NI_NAMEREQD)
        except (OSError, TimeoutError):
            name = None
        self._cache[host] = (now, name)
        return name

    async def match(self, host: str, port: int) -> str | None:
        """The first file name present for this real, or None."""
        present = await self.names()
        if not present:
            return None
        for name in (netloc(host, port), bracketed(host)):
            if name in present:
                return name
        rdns = await self.reverse_name(host)
        for name in candidate_names(host, port, rdns)[2:]:
            if name in present:
                return name
        return None
