"""Watching the config file: mtime first, then an MD5 digest (SPEC Part B §4.8).

Every second the file is stat'ed (off the event loop). When its mtime moves, its digest is
computed; the first digest is only a baseline. A changed digest logs `Configuration file
'<path>' has changed on disk`, then ` - reread new configuration` and a reload (autoreload
yes) or ` - ignore new configuration` (no), then runs `<callback> <path>` if one is set.

The callback is bounded (CALLBACK_TIMEOUT on the watcher's clock): one that hangs is
killed with its whole process group and reaped, and the watch goes on, so a hanging
callback never stops later autoreloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from typing import Protocol

from ldirectord.config.model import Config
from ldirectord.logsetup import log
from ldirectord.runtime.scheduler import Clock

POLL = 1.0
#: Seconds a callback may run before it is killed (the file is not watched meanwhile).
CALLBACK_TIMEOUT = 60.0


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


async def run_callback(callback: str, config_path: str, clock: Clock,
                       limit: float = CALLBACK_TIMEOUT) -> None:
    """`<callback> <config path>` (SPEC Part B §4.8), killed after `limit` seconds.

    The callback runs in a session of its own so that what it started dies with it; it is
    always reaped. Its failures are logged as the original logs a failed system().
    """
    if not os.access(callback, os.X_OK):
        return
    shown = f"{callback} {config_path}"
    try:
        proc = await asyncio.create_subprocess_exec(
            callback, config_path, stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        log.info("system(%s) failed: %s", shown, exc.strerror or exc)
        return
    exited = asyncio.ensure_future(proc.wait())
    bound = asyncio.ensure_future(clock.sleep(limit))
    try:
        await asyncio.wait((exited, bound), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timed_out = bound.done() and not exited.done()
        bound.cancel()
        if not exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            # Reaped even when we are being cancelled: SIGKILL ends it at once.
            await asyncio.shield(exited)
    if timed_out:
        log.info("system(%s) failed: still running after %gs, killed", shown, limit)
    elif exited.result() != 0:
        log.info("system(%s) failed: exit status %d", shown, exited.result())


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
            await run_callback(config.callback, path, self.clock)

    async def run(self) -> None:
        while True:
            await self.poll()
            await self.clock.sleep(POLL)
