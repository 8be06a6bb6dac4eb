"""The health of one check identity: how one check result moves it between UNKNOWN, UP and DOWN.

Rules of this file:
- Pure and synchronous: a result goes in, a new `Health` and the events it caused come
  out. Nothing here knows about virtual services, the IPVS table or log text (events.py
  renders the text, per virtual).
- `failurecount` counts consecutive failures only while the real is UP (SPEC B §4.2): a
  failure of a real already DOWN changes nothing, a failure of an UP real below the limit
  is a soft failure, the failure that reaches the limit takes it DOWN. The counter keeps
  its value while DOWN, so the success that brings the real back logs "Resetting soft
  failure count" as the original does.
- UNKNOWN (never checked since start, or new after a reload) is not UP: its first failure
  takes it DOWN at once (counter 1), its first success takes it UP with no "Resetting soft
  failure count" (Part A §2: no start-up noise). A real found in service in the IPVS table
  at start is seeded UP by `identity.initial_health`, so it gets its soft failures.
- Maintenance forces DOWN, bypassing failurecount (the counter is bumped, as the
  original's forced transitions do, so the way back is logged like any other).
- Combined checks (checktype=N, SPEC B §3.1): the first check is a negotiate; each
  negotiate success is followed by N plain connects, then a negotiate again; any failure
  makes the next check a negotiate; N=0 means always negotiate.

Transition table (`ok` is the check result, n the failure counter, m = failurecount):

    status   result -> status   n      events
    UNKNOWN  ok        UP       0      WENT_UP
    UNKNOWN  fail      DOWN     1      WENT_DOWN
    UP       ok        UP       0      RESET_SOFT_FAILURES if n > 0
    UP       fail      UP       n+1    SOFT_FAILURE (n+1)/m        while n+1 < m
    UP       fail      DOWN     n+1    WENT_DOWN                   when n+1 >= m
    DOWN     ok        UP       0      RESET_SOFT_FAILURES if n > 0, WENT_UP
    DOWN     fail      DOWN     n      -
    UNKNOWN  maint     DOWN     n+1    WENT_DOWN
    UP       maint     DOWN     n+1    WENT_DOWN
    DOWN     maint     DOWN     n      -
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import assert_never

__all__ = [
    "UNKNOWN",
    "Health",
    "HealthEvent",
    "HealthEventKind",
    "Policy",
    "Probe",
    "Status",
    "next_probe",
    "observe",
]


class Status(Enum):
    """What the daemon believes about a real: not yet checked, in service, out of service."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Probe(Enum):
    """Which check to run next for a combined (checktype=N) identity."""

    NEGOTIATE = "negotiate"
    CONNECT = "connect"


@dataclass(frozen=True, slots=True)
class Policy:
    """How results are counted for one check identity (taken from its first virtual).

    `combined` is N of checktype=N, or None when the identity is not a combined check.
    """

    failurecount: int = 1
    combined: int | None = None


@dataclass(frozen=True, slots=True)
class Health:
    """The state of one check identity.

    `failures` is the soft failure counter (below failurecount while UP); `connects_left`
    is how many plain connect checks a combined identity runs before its next negotiate.
    """

    status: Status = Status.UNKNOWN
    failures: int = 0
    connects_left: int = 0


UNKNOWN = Health()


class HealthEventKind(Enum):
    WENT_UP = "went up"
    WENT_DOWN = "went down"
    SOFT_FAILURE = "soft failure"
    RESET_SOFT_FAILURES = "reset soft failures"


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """Something a result did to a health. `failures`/`failurecount` are set for SOFT_FAILURE.

    `maintenance` is True on the WENT_DOWN caused by a maintenance file.
    """

    kind: HealthEventKind
    failures: int = 0
    failurecount: int = 0
    maintenance: bool = False


def next_probe(health: Health, policy: Policy) -> Probe:
    """The check a combined identity runs next; always NEGOTIATE for other identities."""
    if policy.combined is not None and health.connects_left > 0:
        return Probe.CONNECT
    return Probe.NEGOTIATE


def observe(
    health: Health, ok: bool, policy: Policy, *, maintenance: bool = False
) -> tuple[Health, tuple[HealthEvent, ...]]:
    """Apply one check result (or a maintenance hit) to `health`.

    `ok` is the result of the check that `next_probe` asked for. With `maintenance=True`
    the real is forced DOWN whatever `ok` says (the runtime need not run the check).
    """
    if maintenance:
        return _forced_down(health)
    connects_left = _next_connects(health, ok, policy)
    status = health.status
    if ok:
        events: tuple[HealthEvent, ...] = ()
        if health.failures > 0:
            events = (HealthEvent(HealthEventKind.RESET_SOFT_FAILURES),)
        match status:
            case Status.UP:
                pass
            case Status.UNKNOWN | Status.DOWN:
                events += (HealthEvent(HealthEventKind.WENT_UP),)
            case _:
                assert_never(status)
        return Health(Status.UP, 0, connects_left), events
    match status:
        case Status.DOWN:
            return Health(Status.DOWN, health.failures, connects_left), ()
        case Status.UNKNOWN:
            return Health(Status.DOWN, 1, connects_left), (
                HealthEvent(HealthEventKind.WENT_DOWN),)
        case Status.UP:
            failures = health.failures + 1
            if failures < policy.failurecount:
                return Health(Status.UP, failures, connects_left), (
                    HealthEvent(HealthEventKind.SOFT_FAILURE, failures, policy.failurecount),)
            return Health(Status.DOWN, failures, connects_left), (
                HealthEvent(HealthEventKind.WENT_DOWN),)
        case _:
            assert_never(status)


def _forced_down(health: Health) -> tuple[Health, tuple[HealthEvent, ...]]:
    """Maintenance: DOWN at once; the combined cycle restarts with a negotiate."""
    if health.status is Status.DOWN:
        return Health(Status.DOWN, health.failures, 0), ()
    return Health(Status.DOWN, health.failures + 1, 0), (
        HealthEvent(HealthEventKind.WENT_DOWN, maintenance=True),)


def _next_connects(health: Health, ok: bool, policy: Policy) -> int:
    """Connect rounds left after this result (combined checks only)."""
    if policy.combined is None or not ok:
        return 0
    if health.connects_left > 0:  # this result was a connect
        return health.connects_left - 1
    return policy.combined  # a negotiate succeeded: N connects follow
