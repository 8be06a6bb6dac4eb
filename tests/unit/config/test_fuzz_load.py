"""Fuzzing the whole load -> plan path with damaged copies of real config files.

For each damaged file, `parse` either raises ConfigError, every message of which names the
file and a line of it on one printable line (text has no whole-file error: only `load`'s
unreadable file is one), or returns a Config that the pure engine
turns into a plan the in-memory kernel table accepts, exactly as the controller does at
start (`initial_health`, `reconcile` against an empty table) and once every real is up.
Work is bounded: a Config holds at most REALS_BOUND reals, and an example that runs for
DEADLINE fails (a hang, not slowness: the bound is far above any example's cost).

No lookup leaves the machine (OfflineSystem). CI draws the same EXAMPLES examples on every
run; `FUZZ_EXAMPLES=200000` runs that many instead (add `HYPOTHESIS_PROFILE=dev` to draw
new ones).
"""

from __future__ import annotations

import os
import socket
import unicodedata
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings

from ldirectord import engine
from ldirectord.config import parse
from ldirectord.config.model import Config
from ldirectord.config.resolve import literal_address
from ldirectord.errors import ConfigError, ConfigMessage
from ldirectord.ipvs.memory import apply_ops
from tests.unit.config.helpers import FakeSystem
from tests.unit.config.mutations import damaged_config

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3000"))
# 4 x the largest range one real= line may hold: above any sane cap on the expansion of
# ranges, far below what it takes to exhaust a test machine (a million reals is ~0.5 GB).
REALS_BOUND = 4 * 65536
DEADLINE = timedelta(seconds=60)
NAME = "fuzz.cf"
# What breaks or forges a log line (C0 and C1 controls, lone surrogates, line and paragraph
# separators): an error message must show them escaped, not raw.
_BREAKS = {"Cc", "Cs", "Zl", "Zp"}


class OfflineSystem(FakeSystem):
    """FakeSystem, except that a host goes through the C library's numeric parser as on a
    real machine (inet_aton's octal, hex and short forms included); a name that would need
    the resolver resolves to nothing, as `.invalid` does."""

    def host(self, name: str, ipv6: bool) -> str | None:
        found = super().host(name, ipv6)
        if found is not None or not name or "\0" in name:
            return found
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        try:
            infos = socket.getaddrinfo(name, 0, family, socket.SOCK_STREAM, 0,
                                       socket.AI_NUMERICHOST)
        except (OSError, UnicodeError, ValueError):
            return None
        addr = infos[0][4][0]
        return literal_address(str(addr).split("%", 1)[0], ipv6) or str(addr)


def check_message(msg: ConfigMessage, data: bytes) -> None:
    """An error or warning names this file and one of its lines, on one printable line."""
    text = str(msg)
    assert msg.path == NAME, text
    assert 1 <= msg.line <= data.count(b"\n") + 1, f"no line of the file: {text!r}"
    assert text.startswith(f"{NAME}:{msg.line}: "), text
    raw = sorted({c for c in text if c != "\t" and unicodedata.category(c) in _BREAKS})
    assert not raw, f"raw control characters {raw!r} in {text!r}"


def plan_from_scratch(config: Config) -> None:
    """Start on an empty table, then every real comes up: each plan is one the kernel
    (the memory table refuses what it refuses) takes whole, and then there is nothing
    left to do."""
    reals = sum(len(v.reals) for v in config.virtuals)
    assert reals <= REALS_BOUND, f"{reals} reals: the expansion is not capped"
    checks = engine.real_groups(config)
    health = engine.initial_health(config, {})
    assert health == {}, "a real counted as in service in an empty table"
    plan = engine.reconcile(config, health, set(), {})
    table = apply_ops({}, plan.ops)
    up = {c.id: engine.Health(engine.Status.UP) for c in checks}
    plan = engine.reconcile(config, up, set(), table, commands=plan.commands)
    table = apply_ops(table, plan.ops)
    again = engine.reconcile(config, up, set(), table, commands=plan.commands)
    assert again.ops == (), f"not settled after one reconcile: {again.ops[:3]}"
    dests = sum(len(entry.dests) for entry in table.values())
    assert dests <= reals + len(config.virtuals), f"{dests} destinations from {reals} reals"


def load_and_plan(data: bytes) -> None:
    try:
        config = parse(data, NAME, hostname="director.example", system=OfflineSystem())
    except ConfigError as exc:
        assert exc.errors, "a ConfigError without an error"
        for msg in (*exc.errors, *exc.warnings):
            check_message(msg, data)
        return
    for msg in config.warnings:
        check_message(msg, data)
    plan_from_scratch(config)


@pytest.mark.slow
@pytest.mark.timeout(300 + EXAMPLES // 10)
@settings(max_examples=EXAMPLES, deadline=DEADLINE, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(damaged_config())
# Files that once crashed the loader, or passed it and were refused by the kernel: every
# run tries them.
@example(b"virtual=10.0.0.1:80\n\treal=010.0.0.[1-2]:80 gate\n")
@example(b"virtual=10.0.0.1:80\n" + b"\treal=10.0.0.1->10.1.0.0:80 gate\n" * 5)
@example(b"virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tscheduler=rrr\n")
@example(b"virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tschedflags=sh-fallback\n")
def test_a_damaged_config_loads_and_plans_or_fails_with_file_and_line(data: bytes) -> None:
    load_and_plan(data)
