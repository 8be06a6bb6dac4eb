"""Waiting on a condition with a deadline, for tests outside an event loop (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

#: How long a test waits for a daemon or a process to do what it must (a bound, not a goal).
DEADLINE = 20.0


def wait_for(cond: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll `cond` (backing off to 0.2 s) until it holds; fail naming `what` at `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
