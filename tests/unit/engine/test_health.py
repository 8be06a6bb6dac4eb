"""Health transitions: the table in health.py's header, combined checks, and a reference model."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldirectord.engine.health import (
    UNKNOWN,
    Health,
    HealthEvent,
    HealthEventKind,
    Policy,
    Probe,
    Status,
    next_probe,
    observe,
)

K = HealthEventKind
U, D, Q = Status.UP, Status.DOWN, Status.UNKNOWN

# (status, failures, result, failurecount) -> (status, failures, event kinds)
ROWS = [
    ((Q, 0), "ok", 3, (U, 0), [K.WENT_UP]),
    ((Q, 0), "fail", 3, (D, 1), [K.WENT_DOWN]),
    ((Q, 0), "fail", 1, (D, 1), [K.WENT_DOWN]),
    ((U, 0), "ok", 3, (U, 0), []),
    ((U, 2), "ok", 3, (U, 0), [K.RESET_SOFT_FAILURES]),
    ((U, 0), "fail", 3, (U, 1), [K.SOFT_FAILURE]),
    ((U, 1), "fail", 3, (U, 2), [K.SOFT_FAILURE]),
    ((U, 2), "fail", 3, (D, 3), [K.WENT_DOWN]),
    ((U, 0), "fail", 1, (D, 1), [K.WENT_DOWN]),
    ((D, 3), "ok", 3, (U, 0), [K.RESET_SOFT_FAILURES, K.WENT_UP]),
    ((D, 0), "ok", 3, (U, 0), [K.WENT_UP]),
    ((D, 3), "fail", 3, (D, 3), []),
    ((Q, 0), "maint", 3, (D, 1), [K.WENT_DOWN]),
    ((U, 1), "maint", 3, (D, 2), [K.WENT_DOWN]),
    ((D, 1), "maint", 3, (D, 1), []),
]


@pytest.mark.parametrize(("before", "result", "m", "after", "kinds"), ROWS)
def test_transition_table(
    before: tuple[Status, int], result: str, m: int, after: tuple[Status, int],
    kinds: list[HealthEventKind],
) -> None:
    health = Health(before[0], before[1])
    new, events = observe(health, result == "ok", Policy(failurecount=m),
                          maintenance=result == "maint")
    assert (new.status, new.failures) == after
    assert [e.kind for e in events] == kinds


def test_soft_failure_carries_counts() -> None:
    _, events = observe(Health(U, 1), False, Policy(failurecount=4))
    assert events == (HealthEvent(K.SOFT_FAILURE, failures=2, failurecount=4),)


def test_maintenance_event_is_marked() -> None:
    _, events = observe(Health(U), True, Policy(), maintenance=True)
    assert events == (HealthEvent(K.WENT_DOWN, maintenance=True),)


def test_unknown_first_success_has_no_reset_noise() -> None:
    _, events = observe(UNKNOWN, True, Policy(failurecount=3))
    assert K.RESET_SOFT_FAILURES not in [e.kind for e in events]


def _probes(policy: Policy, results: list[bool]) -> list[Probe]:
    health, seen = UNKNOWN, []
    for ok in results:
        seen.append(next_probe(health, policy))
        health, _ = observe(health, ok, policy)
    seen.append(next_probe(health, policy))
    return seen


N, C = Probe.NEGOTIATE, Probe.CONNECT


def test_combined_cycle_negotiate_then_n_connects() -> None:
    assert _probes(Policy(combined=2), [True] * 6) == [N, C, C, N, C, C, N]


def test_combined_failed_connect_forces_negotiate() -> None:
    assert _probes(Policy(combined=3), [True, True, False, True]) == [N, C, C, N, C]


def test_combined_failed_negotiate_repeats() -> None:
    assert _probes(Policy(combined=2), [False, False, True]) == [N, N, N, C]


def test_combined_zero_always_negotiates() -> None:
    assert _probes(Policy(combined=0), [True, True, False, True]) == [N] * 5


def test_not_combined_always_negotiates() -> None:
    assert _probes(Policy(), [True, True, True]) == [N] * 4


@dataclass
class Reference:
    """The original's per-real bookkeeping (SPEC B §4.2), written out longhand."""

    up: bool | None = None  # None = never checked
    failcount: int = 0

    def step(self, result: str, m: int) -> list[HealthEventKind]:
        out: list[HealthEventKind] = []
        if result == "maint":
            if self.up is False:
                return out
            self.failcount += 1
            self.up = False
            return [K.WENT_DOWN]
        if result == "ok":
            if self.failcount > 0:
                out.append(K.RESET_SOFT_FAILURES)
            self.failcount = 0
            if self.up is not True:
                out.append(K.WENT_UP)
            self.up = True
            return out
        if self.up is False:
            return out
        if self.up is None:
            self.up, self.failcount = False, 1
            return [K.WENT_DOWN]
        self.failcount += 1
        if self.failcount < m:
            return [K.SOFT_FAILURE]
        self.up = False
        return [K.WENT_DOWN]


@settings(max_examples=2000)
@given(
    m=st.integers(1, 5),
    combined=st.one_of(st.none(), st.integers(0, 3)),
    results=st.lists(st.sampled_from(["ok", "fail", "maint"]), max_size=30),
)
def test_matches_reference_and_never_exceeds_failurecount_silently(
    m: int, combined: int | None, results: list[str]
) -> None:
    policy = Policy(failurecount=m, combined=combined)
    health, ref = UNKNOWN, Reference()
    for result in results:
        before = health
        health, events = observe(health, result == "ok", policy, maintenance=result == "maint")
        kinds = [e.kind for e in events]
        assert kinds == ref.step(result, m)
        expected = {None: Q, True: U, False: D}[ref.up]
        assert health.status is expected
        assert health.failures == ref.failcount
        if health.status is U:
            assert health.failures < m
        if before.status is U and health.status is not U:
            assert K.WENT_DOWN in kinds
        for e in events:
            if e.kind is K.SOFT_FAILURE:
                assert (e.failures, e.failurecount) == (health.failures, m)
                assert e.failures < m
        assert health.connects_left >= 0
        if combined is None or health.status is not U:
            assert next_probe(health, policy) is Probe.NEGOTIATE
