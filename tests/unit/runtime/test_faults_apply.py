"""One operation the kernel refuses fails alone, and is retried with backoff (Part A §14).

The memory table refuses what the kernel refuses (an unknown scheduler is NotFound, an
IPv6 masq real in an IPv4 service InvalidArgument); the configs are built in code, as a
file with these values no longer passes the parser's own checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from ldirectord.config.model import Forwarding, IpvsProtocol, RealServer
from ldirectord.errors import InvalidArgument, PermissionDenied
from ldirectord.ipvs.memory import MemoryBackend
from ldirectord.ipvs.model import AddDest, AddService, DelService, Op, ServiceKey
from ldirectord.runtime.supervisor import REPAIR_BACKOFF
from tests.unit.runtime.harness import KEY, Harness, config, virtual

BAD = ServiceKey(IpvsProtocol.TCP, "10.0.0.5", 80)
LAST = ServiceKey(IpvsProtocol.TCP, "10.0.0.9", 80)
REFUSED_LINE = "system(ipvsadm -A -t 10.0.0.5:80 -s rrr) failed: "


class Recording(MemoryBackend):
    """The memory table, noting every operation it is asked to apply."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[Op] = []

    async def apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            self.attempts.append(op)
            await super().apply([op])


def use(h: Harness, backend: MemoryBackend) -> None:
    h.backend = backend
    h.sup.controller.backend = backend


def dests(backend: MemoryBackend, key: ServiceKey) -> dict[str, int] | None:
    entry = backend.table.get(key)
    return None if entry is None else {str(k): v.weight for k, v in entry.dests.items()}


def attempts_at(backend: Recording, key: ServiceKey) -> int:
    return sum(1 for op in backend.attempts if isinstance(op, AddService) and op.service == key)


def three_virtuals(bad_scheduler: str = "rrr", schedflags: str | None = None) -> object:
    good = virtual("10.0.0.2", "10.0.0.3")
    bad = replace(virtual("10.0.0.6", "10.0.0.7"), address="10.0.0.5", scheduler=bad_scheduler,
                  schedflags=schedflags)
    last = replace(virtual("10.0.0.10"), address="10.0.0.9")
    return config(good, bad, last)


def backoff_times(until: float) -> list[float]:
    """When the refused operation is tried: at start, then after each backoff step."""
    times, t, step = [0.0], 0.0, 0
    while True:
        t += REPAIR_BACKOFF[min(step, len(REPAIR_BACKOFF) - 1)]
        step += 1
        if t > until:
            return times
        times.append(t)


@pytest.mark.asyncio
@pytest.mark.parametrize(("scheduler", "schedflags", "refusal"), [
    ("rrr", None, "-s rrr) failed: Scheduler or persistence engine not found: rrr"),
    ("wrr", "sh-fallback",
     "-s wrr -b sh-fallback) failed: incompatible scheduler flag 'sh-fallback'"),
])
async def test_a_refused_virtual_does_not_block_the_later_ones(
        caplog: pytest.LogCaptureFixture, scheduler: str, schedflags: str | None,
        refusal: str) -> None:
    cfg = three_virtuals(scheduler, schedflags)
    h = Harness(cfg, caplog)
    backend = Recording()
    use(h, backend)
    await h.start()
    await h.clock.advance(0)
    assert dests(backend, KEY) == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    assert dests(backend, BAD) is None
    assert dests(backend, LAST) == {"10.0.0.10:80": 1}
    lines = h.take_lines()
    assert "Added virtual server: 10.0.0.9:80" in lines
    assert "Added virtual server: 10.0.0.5:80" not in lines
    assert [line for line in lines if "failed" in line] == \
        ["system(ipvsadm -A -t 10.0.0.5:80 " + refusal]
    # Its reals were never offered to the kernel: they depend on the refused service.
    assert not [op for op in backend.attempts if isinstance(op, AddDest) and op.service == BAD]


@pytest.mark.asyncio
async def test_a_refused_operation_is_retried_with_backoff_and_logged_once_per_step(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(three_virtuals(), caplog)
    backend = Recording()
    use(h, backend)
    await h.start()
    horizon = 120.0
    # Reals going down and up meanwhile: unrelated results must neither retry the refused
    # operation nor reset its backoff.
    for second in range(int(horizon)):
        if second % 7 == 0:
            h.script.up["10.0.0.3"] = not h.script.up.get("10.0.0.3", True)
        await h.clock.advance(1)
    expected = len(backoff_times(horizon))
    assert expected == 8  # 0, 1, 3, 8, 18, 48, 78, 108: 30 s apart from the fifth on
    assert attempts_at(backend, BAD) == expected
    refused = [line for line in h.lines() if line.startswith(REFUSED_LINE)]
    assert len(refused) == expected
    assert dests(backend, LAST) == {"10.0.0.10:80": 1}
    assert any(line.startswith("Deleted real server: 10.0.0.3:80") for line in h.lines())
    assert await h.stop() == 0


@pytest.mark.asyncio
async def test_a_reload_that_fixes_the_refused_virtual_programs_it_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    fixed = three_virtuals("rr")
    h = Harness(three_virtuals(), caplog, loader=lambda path: fixed)  # type: ignore[arg-type]
    backend = Recording()
    use(h, backend)
    await h.start()
    await h.clock.advance(3.5)  # two retries in: the backoff is at 5 s now
    h.take_lines()
    h.sup.request_reload("signal")
    await h.clock.advance(0)
    assert dests(backend, BAD) == {"10.0.0.6:80": 1, "10.0.0.7:80": 1}
    lines = h.take_lines()
    assert "Added virtual server: 10.0.0.5:80" in lines
    assert not [line for line in lines if "failed" in line]
    # Nothing is held any more: no further attempt, and a new refusal starts at 1 s again.
    before = len(backend.attempts)
    await h.clock.advance(60)
    assert attempts_at(backend, BAD) == 4  # start, 1 s, 3 s, the reload
    assert not [op for op in backend.attempts[before:] if isinstance(op, AddService)]
    assert h.sup._repairs == 0
    assert await h.stop() == 0


@pytest.mark.asyncio
async def test_a_refused_real_does_not_block_the_other_reals(
        caplog: pytest.LogCaptureFixture) -> None:
    # An IPv6 masq real in an IPv4 service: the kernel says EINVAL.
    odd = RealServer("2001:db8::5", 80, Forwarding.MASQ)
    vs = virtual("10.0.0.2", "10.0.0.3")
    vs = replace(vs, reals=(vs.reals[0], odd, vs.reals[1]))
    h = Harness(config(vs), caplog)
    backend = Recording()
    use(h, backend)
    await h.start()
    await h.clock.advance(0)
    assert dests(backend, KEY) == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    lines = h.take_lines()
    assert "Added real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 1)" in lines
    assert len([line for line in lines
                if line.startswith("system(ipvsadm -a -t 10.0.0.1:80 ")
                and "[2001:db8::5]:80" in line and "failed" in line]) == 1
    # The refused real is retried on the backoff, the others are not touched again.
    await h.clock.advance(3)
    odd_adds = [op for op in backend.attempts
                if isinstance(op, AddDest) and op.dest.address == "2001:db8::5"]
    assert len(odd_adds) == 3  # at the first results, then 1 s and 2 s later
    assert dests(backend, KEY) == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    assert await h.stop() == 0


class NotRoot(Recording):
    """Every write refused for want of privilege, as the kernel does for a non-root user."""

    async def apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            self.attempts.append(op)
            raise PermissionDenied("Operation not permitted", op)


@pytest.mark.asyncio
async def test_no_permission_stops_the_apply_at_once(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(three_virtuals("rr"), caplog)
    backend = NotRoot()
    use(h, backend)
    await h.start()
    # Not one line per operation: the first refusal says it all, and nothing else is tried.
    assert len(backend.attempts) == 1
    assert [line for line in h.lines() if "failed" in line] == [
        "system(ipvsadm -A -t 10.0.0.1:80 -s wrr) failed: Operation not permitted"]
    assert h.sup.controller.needs_repair
    assert await h.stop() == 0


class RefusesRemoval(Recording):
    """The memory table, refusing to delete one service the first `times` times."""

    def __init__(self, key: ServiceKey, times: int) -> None:
        super().__init__()
        self.key, self.times = key, times

    async def apply(self, ops: Sequence[Op]) -> None:
        for op in ops:
            if isinstance(op, DelService) and op.service == self.key and self.times > 0:
                self.times -= 1
                self.attempts.append(op)
                raise InvalidArgument("refused for the test", op)
            await super().apply([op])


@pytest.mark.asyncio
async def test_a_refused_removal_of_a_dropped_virtual_is_retried_until_it_is_gone(
        caplog: pytest.LogCaptureFixture) -> None:
    # A reload drops a virtual and the kernel refuses its removal: the virtual stays ours
    # (managed, recorded) and the removal is retried on the repair backoff, not forgotten.
    dropped = replace(virtual("10.0.0.6"), address="10.0.0.5")
    old, new = config(virtual("10.0.0.2"), dropped), config(virtual("10.0.0.2"))
    h = Harness(old, caplog, loader=lambda path: new)
    backend = RefusesRemoval(BAD, times=2)
    use(h, backend)
    await h.start()
    await h.clock.advance(0)
    assert dests(backend, BAD) == {"10.0.0.6:80": 1}
    h.sup.request_reload("signal")
    await h.clock.advance(0)
    assert dests(backend, BAD) is not None  # refused once
    assert BAD in h.sup.controller.ownership.keys
    for _ in range(10):
        await h.clock.advance(1)
    assert dests(backend, BAD) is None
    deletions = [op for op in backend.attempts if isinstance(op, DelService)]
    assert len(deletions) == 3  # refused twice, then done: retried, not at every result
