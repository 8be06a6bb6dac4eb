"""One check loop per check identity, each on its own schedule (SPEC Part A §7).

Theory of operation: a loop sleeps a random fraction of its interval first (so a thousand
reals do not all fire at once), then repeatedly takes a slot from the global semaphore,
runs its check, hands the result to the controller, and sleeps until `interval` after the
start of that check (at once, if the check took longer). A slow or dead real only delays
its own loop. Time is injected (`Clock`), so tests drive the schedule without sleeping.

Error handling: a check that raises (a bug in our code, never a server's doing) becomes a
failed `Result` whose detail starts with "internal error", with the traceback logged at
debug level. Cancellation propagates: reload and stop cancel loops at any await.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from checkers.base import Result
from ldirectord.logsetup import log

#: Default bound on checks in flight at once, over all loops.
MAX_IN_FLIGHT = 256


@dataclass(frozen=True, slots=True)
class Observation:
    """One check's outcome as the loop hands it over; `maintenance` = forced down by a file."""

    result: Result
    maintenance: bool = False


class Clock(Protocol):
    """Monotonic time and sleeping; the loop's own by default, a fake one in tests."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The running event loop's clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


CheckCall = Callable[[], Awaitable[Result | Observation]]


async def guarded(check: CheckCall, clock: Clock, what: str) -> Observation:
    """Run `check`; a raised exception is a failed result (traceback at debug level)."""
    started = clock.now()
    try:
        got = await check()
    except Exception as exc:
        log.debug("internal error checking %s:\n%s", what, traceback.format_exc().rstrip())
        return Observation(Result(False, f"internal error: {exc.__class__.__name__}: {exc}",
                              clock.now() - started))
    return got if isinstance(got, Observation) else Observation(got)


async def check_loop(
    what: str,
    interval: Callable[[], float],
    check: CheckCall,
    deliver: Callable[[Observation], None],
    clock: Clock,
    slots: asyncio.Semaphore,
    first_delay: float,
) -> None:
    """Check forever: first after `first_delay`, then one start every `interval()` seconds."""
    await clock.sleep(first_delay)
    while True:
        started = clock.now()
        async with slots:
            outcome = await guarded(check, clock, what)
        deliver(outcome)
        await clock.sleep(max(0.0, started + interval() - clock.now()))


def jitter(interval: float, rng: random.Random | None = None) -> float:
    """A first-check delay spread uniformly over the interval."""
    return (rng or random).uniform(0.0, max(0.0, interval))
