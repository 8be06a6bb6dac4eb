"""The mail rate limit: at most one mail per key every `interval` seconds, the rest summarised.

Pure: no clock is read and nothing is logged or sent. The caller passes its clock's time
(`now`) to every call and the wall time a held transition is stamped with (`stamp`); what
it gets back are the mails to send now.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from enum import Enum

from ldirectord.runtime.mail.message import Mail

#: Transitions listed in one summary: the first ones and the latest.
HELD_LIMIT = 20


class Admission(Enum):
    """What `offer` did with a mail."""

    SEND = "send"  # mail it now
    HELD_FIRST = "held first"  # held: the first in its window
    HELD = "held"  # held behind others


@dataclass(frozen=True, slots=True)
class _Window:
    """The rate-limit state of one key."""

    last: float  # when the last mail about it was let through
    held: tuple[tuple[float, Mail], ...] = ()  # (wall stamp, mail) not mailed at the time
    dropped: int = 0


class RateLimiter:
    """One window per key, opened by each mail let through. A mail offered inside the
    window is held; when the window ends, one summary goes out: the latest held mail,
    with the list of the held transitions and their stamps.

    An interval of 0 (or less) lets every mail through.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._windows: dict[Hashable, _Window] = {}

    def offer(self, key: Hashable, mail: Mail, now: float, stamp: float) -> Admission:
        """Let `mail` through (and open the key's window), or hold it."""
        window = self._windows.get(key)
        if window is None or now - window.last >= self.interval:
            if self.interval > 0:
                self._windows[key] = _Window(now)
            return Admission.SEND
        entry = (stamp, mail)
        if len(window.held) < HELD_LIMIT:
            held, dropped = (*window.held, entry), window.dropped
        else:  # keep the first ones and the latest: the latest is the summary's subject
            held, dropped = (*window.held[:-1], entry), window.dropped + 1
        self._windows[key] = replace(window, held=held, dropped=dropped)
        return Admission.HELD if window.held else Admission.HELD_FIRST

    def release(self, key: Hashable, now: float) -> Mail | None:
        """The summary of the key's held mails, sent now (a new window opens), if any."""
        window = self._windows.get(key)
        if window is None or not window.held:
            return None
        self._windows[key] = _Window(now)
        return self._summary(window)

    def ended(self, now: float) -> list[Mail]:
        """The summaries of the windows that ended by `now`; those with nothing held close."""
        due: list[Mail] = []
        for key, window in list(self._windows.items()):
            if now - window.last < self.interval:
                continue
            if window.held:
                self._windows[key] = _Window(now)
                due.append(self._summary(window))
            else:
                del self._windows[key]
        return due

    def drain(self) -> list[Mail]:
        """Every held summary at once, and no window left (at stop)."""
        due = [self._summary(w) for w in self._windows.values() if w.held]
        self._windows.clear()
        return due

    def _summary(self, window: _Window) -> Mail:
        latest = window.held[-1][1]
        return replace(latest, held=tuple((stamp, m.text) for stamp, m in window.held),
                       held_dropped=window.dropped, rate_interval=self.interval)
