"""A small file cannot make the daemon build millions of real servers: the total a file may
define is capped, and counted before any range is expanded."""

from __future__ import annotations

import ipaddress
import tracemalloc

import pytest

from ldirectord.config import parse
from ldirectord.config.reals import MAX_REALS
from ldirectord.errors import ConfigError
from tests.unit.config.helpers import FakeSystem

RANGE = "\treal=10.0.0.1->10.1.0.0:80 gate\n"  # 65536 addresses, the per-range maximum


def test_the_documented_limit() -> None:
    assert MAX_REALS == 100_000


def test_a_3kb_file_of_ranges_is_refused_with_one_error_in_bounded_memory() -> None:
    text = "virtual=10.0.0.1:80\n" + RANGE * 100
    assert 3000 <= len(text) <= 3500
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as info:
            parse(text, "ldirectord.cf", hostname="h", system=FakeSystem())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [str(m) for m in info.value.errors] == [
        "ldirectord.cf:3: real=10.0.0.1->10.1.0.0:80 gate: too many real servers: this "
        "line brings the file to 131072 (a range counts each of its addresses); a file may "
        "define at most 100000"]
    # 6.5 million RealServers would take gigabytes; counting takes almost nothing.
    assert peak < 20 * 2**20


def test_the_limit_counts_every_virtual_of_the_file() -> None:
    text = ("virtual=10.0.0.1:80\n" + RANGE + "virtual=10.0.0.1:81\n" + RANGE
            + "\tchecktype=bogus\n")
    with pytest.raises(ConfigError) as info:
        parse(text, "a.cf", hostname="h", system=FakeSystem())
    assert [m.line for m in info.value.errors] == [4, 5]  # other errors are still reported
    assert "too many real servers" in info.value.errors[0].message


def test_exactly_the_limit_is_accepted() -> None:
    last = ipaddress.IPv4Address("10.2.0.1") + (MAX_REALS - 65536 - 1)
    text = "virtual=10.0.0.1:80\n" + RANGE + f"\treal=10.2.0.1->{last}:80 gate\n"
    config = parse(text, "a.cf", hostname="h", system=FakeSystem())
    assert len(config.virtuals[0].reals) == MAX_REALS
