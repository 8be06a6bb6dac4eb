"""Matching `receive` off the event loop, bounded by the check's deadline.

A `receive` pattern can backtrack for minutes on a few bytes (`^(a|aa)+$`). A match
therefore never runs on the event loop: it runs in a worker thread, where the regex
package releases the GIL, and its own timeout ends it at the check's deadline. A match
that runs out of time raises `MatchTimeout`, whose `detail` is the check's log line.

Two lanes keep a slow pattern from delaying anybody else's checks:

- the fast lane (FAST_WORKERS threads) runs every match first, for at most SLICE
  seconds; a benign pattern is done in microseconds, so nothing waits there for long;
- a match that needs more than SLICE marks its pattern slow and moves, with the rest of
  the check's time, to the slow lane (SLOW_WORKERS thread). Later matches of a slow
  pattern go straight there (also those already queued in the fast lane), until one of
  them finishes within SLICE.

So pathological patterns, however many checks use them, take one thread and at most one
CPU core, and each check's own time; they wait for each other, and a match still waiting
at its deadline is down without having run. A check that is cancelled (a reload, a stop)
drops its match if it has not started; a started one runs until its regex timeout, the
check's deadline, and its result is dropped.

The thread hop costs CPU (thread wake-ups, and the GIL passed between the worker and a
busy event loop), far more than a benign match itself.
A worker goes on with every match queued meanwhile and hands back their results in one
call to the event loop, which amortises part of it under load (bench/receive_match.py).
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from checkers.base import Down, match_timed_out, matching
from ldirectord.config.perlre import ReceivePattern

#: Most seconds one match may take in the fast lane before it moves to the slow lane.
SLICE: Final = 0.05
FAST_WORKERS: Final = 2
SLOW_WORKERS: Final = 1
#: A worker hands back the results it has after a match that took longer than this.
_FLUSH: Final = 0.001

_Outcome = int | None | BaseException  # an index, no match, or the error to raise


class _Moved:
    """A job that went on to the slow lane (no outcome yet)."""


_MOVED: Final = _Moved()


class MatchTimeout(Down):
    """The receive pattern did not finish matching before the check's deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(match_timed_out(seconds))


@dataclass(slots=True)
class _Job:
    """One match to run: the first of `subjects` that `pattern` matches, by `end`."""

    future: asyncio.Future[int | None]
    pattern: ReceivePattern
    subjects: Sequence[bytes]
    end: float  # on time.monotonic()


def _settle(outcomes: list[tuple[asyncio.Future[int | None], _Outcome]]) -> None:
    """On the event loop: hand each result to its check, unless it has given up."""
    for future, outcome in outcomes:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class _Lanes:
    """The two lanes' queues and threads (started on first use), and the slow patterns."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fast: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.slow: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.started = False
        self.slow_patterns: weakref.WeakSet[ReceivePattern] = weakref.WeakSet()

    def put(self, job: _Job) -> None:
        if not self.started:
            self._start()
        (self.slow if self.is_slow(job.pattern) else self.fast).put(job)

    def _start(self) -> None:
        with self.lock:
            if self.started:
                return
            for n in range(FAST_WORKERS):
                threading.Thread(target=self._work, args=(self.fast, True), daemon=True,
                                 name=f"receive-{n}").start()
            for n in range(SLOW_WORKERS):
                threading.Thread(target=self._work, args=(self.slow, False), daemon=True,
                                 name=f"receive-slow-{n}").start()
            self.started = True

    def is_slow(self, pattern: ReceivePattern) -> bool:
        with self.lock:
            return pattern in self.slow_patterns

    def mark(self, pattern: ReceivePattern, slow: bool) -> None:
        with self.lock:
            if slow:
                self.slow_patterns.add(pattern)
            else:
                self.slow_patterns.discard(pattern)

    def _work(self, jobs: queue.SimpleQueue[_Job], fast: bool) -> None:
        # Jobs are taken one at a time (while this one runs a long match, another worker
        # takes the next), results handed back together once the queue is empty.
        while True:
            job: _Job | None = jobs.get()
            done: list[tuple[asyncio.Future[int | None], _Outcome]] = []
            while job is not None:
                if not job.future.done():  # else cancelled, or past its deadline
                    started = time.monotonic()
                    try:
                        outcome = self._run(job, fast, started)
                    except Exception as exc:  # a bug of ours: that check fails, not the lane
                        outcome = exc
                    if not isinstance(outcome, _Moved):
                        done.append((job.future, outcome))
                    if done and time.monotonic() - started > _FLUSH:
                        _deliver(done)
                        done = []
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    job = None
            _deliver(done)

    def _run(self, job: _Job, fast: bool, started: float) -> _Outcome | _Moved:
        """Run one job; _MOVED when it went on to the slow lane instead."""
        if fast and self.is_slow(job.pattern):
            self.slow.put(job)
            return _MOVED
        budget = job.end - started
        limit = min(budget, SLICE) if fast else budget
        try:
            index = _first(job.pattern, job.subjects, started, limit)
        except TimeoutError as exc:
            if fast and budget > SLICE:
                self.mark(job.pattern, slow=True)
                self.slow.put(job)
                return _MOVED
            return exc
        if not fast and time.monotonic() - started < SLICE:
            self.mark(job.pattern, slow=False)  # it was slow on another subject only
        return index


def _first(pattern: ReceivePattern, subjects: Sequence[bytes], started: float, limit: float
           ) -> int | None:
    for index, subject in enumerate(subjects):
        left = limit - (time.monotonic() - started)
        if left <= 0:
            raise TimeoutError
        if pattern.search(subject, timeout=left) is not None:
            return index
    return None


def _deliver(done: list[tuple[asyncio.Future[int | None], _Outcome]]) -> None:
    """From a worker: one call to each event loop with its checks' results."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int | None],
                                                        _Outcome]]] = {}
    for item in done:
        by_loop.setdefault(item[0].get_loop(), []).append(item)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, items)
        except RuntimeError:  # that loop is closed: nobody waits for these any more
            pass


_LANES = _Lanes()


def _forget_threads() -> None:
    # A forked child has none of its parent's threads: start them anew when needed.
    global _LANES
    _LANES = _Lanes()


os.register_at_fork(after_in_child=_forget_threads)


def _expire(future: asyncio.Future[int | None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def first_match(pattern: ReceivePattern, subjects: Sequence[bytes], deadline: float,
                      check_timeout: float) -> int | None:
    """The index of the first of `subjects` that `pattern` matches, or None.

    `deadline` is on the running loop's clock; `check_timeout` is the check's timeout, for
    the detail. Raises MatchTimeout when the deadline passes first.
    """
    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    if remaining <= 0:
        raise MatchTimeout(check_timeout)
    future: asyncio.Future[int | None] = loop.create_future()
    _LANES.put(_Job(future, pattern, subjects, time.monotonic() + remaining))
    # The worker's regex timeout ends a match at the deadline; this ends the wait for one
    # still queued behind slow matches. Cancelling the check cancels `future`, so a
    # worker that has not started the match skips it.
    expiry = loop.call_at(deadline, _expire, future)
    try:
        with matching():
            return await future
    except TimeoutError:
        raise MatchTimeout(check_timeout) from None
    finally:
        expiry.cancel()


async def search(pattern: ReceivePattern, subject: bytes, deadline: float,
                 check_timeout: float) -> bool:
    """Whether `pattern` matches `subject` (see first_match)."""
    return await first_match(pattern, (subject,), deadline, check_timeout) is not None
