"""Check loops on a virtual clock: schedule, jitter, isolation, bugs, the in-flight bound."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from checkers.base import Result
from ldirectord.runtime.scheduler import Observation, check_loop, jitter
from tests.unit.runtime.fakeclock import FakeClock


def test_jitter_is_within_the_interval() -> None:
    rng = random.Random(1)
    values = [jitter(10.0, rng) for _ in range(1000)]
    assert all(0.0 <= v <= 10.0 for v in values)
    assert max(values) - min(values) > 5.0  # spread, not bunched


@pytest.mark.asyncio
async def test_interval_is_between_starts_and_a_slow_check_delays_only_itself() -> None:
    clock = FakeClock()
    t0 = clock.now()
    slots = asyncio.Semaphore(10)
    fast_starts: list[float] = []
    slow_starts: list[float] = []
    results: list[tuple[str, Observation]] = []

    async def fast() -> Result:
        fast_starts.append(clock.now() - t0)
        await clock.sleep(1.0)
        return Result(True, "ok", 1.0)

    async def slow() -> Result:  # a dead real: every check runs to a 30 s timeout
        slow_starts.append(clock.now() - t0)
        await clock.sleep(30.0)
        return Result(False, "timeout", 30.0)

    tasks = [
        asyncio.create_task(check_loop("fast", lambda: 5.0, fast,
                                       lambda r: results.append(("fast", r)), clock, slots, 2.0)),
        asyncio.create_task(check_loop("slow", lambda: 5.0, slow,
                                       lambda r: results.append(("slow", r)), clock, slots, 0.0)),
    ]
    await clock.advance(61.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert fast_starts == [2.0 + 5.0 * i for i in range(12)]
    # The slow check takes longer than its interval: the next starts as soon as it ends.
    assert slow_starts == [0.0, 30.0, 60.0]
    assert [o.result.ok for name, o in results if name == "slow"] == [False, False]


@pytest.mark.asyncio
async def test_a_checker_bug_is_a_failed_check_and_the_loop_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    got: list[Observation] = []
    calls = 0

    async def buggy() -> Result:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("oops")
        return Result(True, "fine", 0.0)

    caplog.set_level(logging.DEBUG, logger="ldirectord")
    task = asyncio.create_task(check_loop("r1", lambda: 1.0, buggy, got.append, clock,
                                          asyncio.Semaphore(1), 0.0))
    await clock.advance(1.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [o.result.ok for o in got] == [False, True]
    assert got[0].result.detail == "internal error: KeyError: 'oops'"
    assert any("Traceback" in rec.getMessage() and rec.levelno == logging.DEBUG
               for rec in caplog.records)


@pytest.mark.asyncio
async def test_the_semaphore_bounds_checks_in_flight() -> None:
    clock = FakeClock()
    slots = asyncio.Semaphore(2)
    in_flight = 0
    peak = 0

    async def check() -> Result:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await clock.sleep(1.0)
        in_flight -= 1
        return Result(True, "", 1.0)

    tasks = [asyncio.create_task(check_loop(f"r{i}", lambda: 10.0, check, lambda r: None,
                                            clock, slots, 0.0)) for i in range(6)]
    await clock.advance(5.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 2
