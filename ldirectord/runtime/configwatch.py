"""Watching the config file: mtime first, then an MD5 digest (SPEC Part B §4.8).

Every second the file is stat'ed (off the event loop). When its mtime moves, its digest is
computed; the first digest is only a baseline. A changed digest logs `Configuration file
'<path>' has changed on disk`, then ` - reread new configuration` and a reload (autoreload
yes) or ` - ignore new configuration` (no), then runs `<callback> <path>` if one is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Protocol

from ldirectord.config.model import Config
from ldirectord.logsetup import log
from ldirectord.runtime.effects import run_callback
from ldirectord.runtime.scheduler import Clock

POLL = 1.0


class _Owner(Protocol):
    @property
    def config(self) -> Config: ...

    def request_reload(self, reason: str = "signal") -> None: ...


def _stat_and_digest(path: str, last_mtime: float | None) -> tuple[float, str | None]:
    """(mtime, md5 hex or None when the mtime is unchanged); raises OSError."""
    mtime = os.stat(path).st_mtime
    if mtime == last_mtime:
        return mtime, None
    with open(path, "rb") as fh:
        return mtime, hashlib.md5(fh.read(), usedforsecurity=False).hexdigest()


class ConfigWatch:
    def __init__(self, clock: Clock, owner: _Owner) -> None:
        self.clock = clock
        self.owner = owner
        self.mtime: float | None = None
        self.digest: str | None = None
        self._unreadable = False

    def forget(self) -> None:
        """A reload just read the file: its next look takes a new baseline, as the original's
        config parser does, so the change that was reloaded is not reported again."""
        self.mtime = None
        self.digest = None

    async def poll(self) -> None:
        """One look at the file; reacts to a change."""
        config = self.owner.config
        path = config.path
        try:
            mtime, digest = await asyncio.to_thread(_stat_and_digest, path, self.mtime)
        except OSError:
            if not self._unreadable:
                log.info("can not open file %s for checking", path)
            self._unreadable = True
            return
        self._unreadable = False
        self.mtime = mtime
        if digest is None:
            return
        if self.digest is None or digest == self.digest:
            self.digest = digest
            return
        self.digest = digest
        log.info("Configuration file '%s' has changed on disk", path)
        if config.autoreload:
            log.info(" - reread new configuration")
            self.owner.request_reload("autoreload")
        else:
            log.info(" - ignore new configuration")
        if config.callback:
            await run_callback(config.callback, path)

    async def run(self) -> None:
        while True:
            await self.poll()
            await self.clock.sleep(POLL)
