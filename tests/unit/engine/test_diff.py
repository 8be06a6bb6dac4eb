"""diff against the memory backend's kernel-faithful apply_ops: correct, minimal, ordered."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ldirectord.config.model import IpvsProtocol
from ldirectord.engine.diff import diff, same_dest, same_service
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    DestKey,
    EditDest,
    EditService,
    Method,
    ServiceAttrs,
    ServiceEntry,
    ServiceKey,
    Table,
)

SERVICES = (
    ServiceKey(IpvsProtocol.TCP, "10.0.0.1", 80),
    ServiceKey(IpvsProtocol.TCP, "10.0.0.1", 443),
    ServiceKey(IpvsProtocol.UDP, "10.0.0.1", 53),
    ServiceKey(IpvsProtocol.FWM, None, 0, 7),
    ServiceKey(IpvsProtocol.TCP, "2001:db8::1", 80, None, True),
)
V4_DESTS = tuple(DestKey(f"10.0.1.{i}", p) for i in range(1, 4) for p in (0, 80))
V6_DESTS = tuple(DestKey(f"2001:db8::{i}", 80) for i in range(2, 5))
FLAGS = {"sh": ("sh-port", "sh-fallback"), "mh": ("mh-port", "mh-fallback")}


SCHEDULERS = ("wrr", "rr", "sh", "mh")
METHODS = (Method.MASQ, Method.ROUTE, Method.TUNNEL)
THRESHOLDS = ((0, 0), (10, 5), (10, 0))


def service_attrs(key: ServiceKey, code: int) -> ServiceAttrs:
    """Attributes in the canonical form the kernel reads back, from one small number."""
    code, sched = divmod(code, len(SCHEDULERS))
    code, persist = divmod(code, 3)
    code, mask = divmod(code, 2)
    code, flagbits = divmod(code, 4)
    scheduler = SCHEDULERS[sched]
    persistent = (None, 300, 600)[persist]
    netmask = None
    if persistent is not None and mask:
        netmask = "64" if key.ipv6 else "255.255.255.0"
    names = FLAGS.get(scheduler, ())
    flags = frozenset(n for i, n in enumerate(names) if flagbits & (1 << i))
    ops = key.protocol is IpvsProtocol.UDP and code % 2 == 1
    return ServiceAttrs(scheduler, persistent, netmask, ops, flags)


SERVICE_CODES = len(SCHEDULERS) * 3 * 2 * 4 * 2
DEST_CODES = len(METHODS) * 5 * len(THRESHOLDS)


def dest_attrs(code: int) -> DestAttrs:
    code, method = divmod(code, len(METHODS))
    threshold, weight = divmod(code, 5)
    return DestAttrs(METHODS[method], weight, *THRESHOLDS[threshold])


def _table(codes: bytes) -> dict[ServiceKey, ServiceEntry]:
    """One byte per service and per possible destination; small bytes mean absent, so
    that shrinking goes towards empty tables."""
    table: dict[ServiceKey, ServiceEntry] = {}
    pos = 0
    for key in SERVICES:
        pool = V6_DESTS if key.ipv6 else V4_DESTS
        scode, dcodes = codes[pos], codes[pos + 1:pos + 1 + len(pool)]
        pos += 1 + len(pool)
        if scode >= 64:
            dests = {d: dest_attrs((c - 160) % DEST_CODES)
                     for d, c in zip(pool, dcodes, strict=True) if c >= 160}
            table[key] = ServiceEntry(service_attrs(key, (scode - 64) % SERVICE_CODES), dests)
    return table


TABLE_BYTES = sum(1 + len(V6_DESTS if k.ipv6 else V4_DESTS) for k in SERVICES)


def tables() -> st.SearchStrategy[dict[ServiceKey, ServiceEntry]]:
    return st.binary(min_size=TABLE_BYTES, max_size=TABLE_BYTES).map(_table)


managed_sets = st.integers(0, 2 ** len(SERVICES) - 1).map(
    lambda bits: frozenset(k for i, k in enumerate(SERVICES) if bits & (1 << i)))


def expected_after(desired: Table, actual: Table, managed: frozenset[ServiceKey]) -> Table:
    kept = {k: v for k, v in actual.items() if k not in desired and k not in managed}
    return {**desired, **kept}


def expected_count(desired: Table, actual: Table, managed: frozenset[ServiceKey]) -> int:
    count = 0
    for key, want in desired.items():
        have = actual.get(key)
        if have is None:
            count += 1 + len(want.dests)
            continue
        count += want.attrs != have.attrs
        count += sum(1 for d in want.dests if d not in have.dests or have.dests[d] != want.dests[d])
        count += sum(1 for d in have.dests if d not in want.dests)
    count += sum(1 for key in actual if key in managed and key not in desired)
    return count


@settings(max_examples=2000)
@given(actual=tables(), desired=tables(), managed=managed_sets)
def test_apply_diff_reaches_desired_and_spares_the_rest(
    actual: Table, desired: Table, managed: frozenset[ServiceKey]
) -> None:
    ops = diff(desired, actual, managed)
    result = apply_ops(actual, ops)  # raises if the kernel would refuse one, or the order
    assert result == expected_after(desired, actual, managed)
    touched = {op.service for op in ops}
    assert touched <= set(desired) | managed
    assert len(ops) == expected_count(desired, actual, managed)
    assert diff(desired, result, managed) == []


@settings(max_examples=2000)
@given(table=tables(), managed=managed_sets)
def test_diff_of_a_table_with_itself_is_empty(table: Table,
                                              managed: frozenset[ServiceKey]) -> None:
    assert diff(table, table, managed) == []


@settings(max_examples=2000)
@given(actual=tables(), desired=tables(), mask=st.integers(0, 2 ** 30 - 1))
def test_local_forwarding_matches_any_method(actual: Table, desired: Table,
                                             mask: int) -> None:
    # what the kernel reports for a local address: Local, whatever was asked
    bits = iter(range(1000))
    local = {key: ServiceEntry(e.attrs, {d: replace(a, method=Method.LOCAL)
                                         if mask & (1 << next(bits)) else a
                                         for d, a in e.dests.items()})
             for key, e in actual.items()}
    result = apply_ops(local, diff(desired, local))
    for key, want in desired.items():
        assert set(result[key].dests) == set(want.dests)
        for dest, attrs in want.dests.items():
            assert same_dest(attrs, result[key].dests[dest])
    assert diff(desired, result) == []


def test_order_service_then_adds_then_deletes() -> None:
    key = SERVICES[0]
    old, new = DestKey("10.0.1.1", 80), DestKey("10.0.1.2", 80)
    actual = {key: ServiceEntry(ServiceAttrs("rr"), {old: DestAttrs(Method.ROUTE, 1)})}
    desired = {key: ServiceEntry(ServiceAttrs("wrr"), {new: DestAttrs(Method.ROUTE, 1)}),
               SERVICES[1]: ServiceEntry(ServiceAttrs(), {new: DestAttrs(Method.MASQ, 2)})}
    assert diff(desired, actual) == [
        EditService(key, ServiceAttrs("wrr")),
        AddDest(key, new, DestAttrs(Method.ROUTE, 1)),
        DelDest(key, old),
        AddService(SERVICES[1], ServiceAttrs()),
        AddDest(SERVICES[1], new, DestAttrs(Method.MASQ, 2)),
    ]


def test_edit_only_what_differs() -> None:
    key = SERVICES[0]
    a, b = DestKey("10.0.1.1", 80), DestKey("10.0.1.2", 80)
    actual = {key: ServiceEntry(ServiceAttrs(), {
        a: DestAttrs(Method.ROUTE, 1, active_conns=5), b: DestAttrs(Method.ROUTE, 1)})}
    desired = {key: ServiceEntry(ServiceAttrs(), {
        a: DestAttrs(Method.ROUTE, 1), b: DestAttrs(Method.ROUTE, 1, 10, 5)})}
    assert diff(desired, actual) == [EditDest(key, b, DestAttrs(Method.ROUTE, 1, 10, 5))]


def test_unmanaged_service_is_never_touched_and_managed_one_is_deleted() -> None:
    mine, theirs = SERVICES[0], SERVICES[1]
    actual = {mine: ServiceEntry(ServiceAttrs()), theirs: ServiceEntry(ServiceAttrs())}
    assert diff({}, actual) == []
    assert diff({}, actual, frozenset({mine})) == [DelService(mine)]


def test_service_comparison_in_kernel_form() -> None:
    v4, v6 = SERVICES[0], SERVICES[4]
    assert same_service(v4, ServiceAttrs(persistent=300),
                        ServiceAttrs(persistent=300, netmask="255.255.255.255"))
    assert same_service(v6, ServiceAttrs(persistent=300), ServiceAttrs(persistent=300,
                                                                       netmask="128"))
    assert same_service(v4, ServiceAttrs(netmask="255.255.0.0"), ServiceAttrs())
    assert not same_service(v4, ServiceAttrs(persistent=300, netmask="255.255.0.0"),
                            ServiceAttrs(persistent=300))
    assert same_service(v4, ServiceAttrs("sh", schedflags=frozenset({"flag-1"})),
                        ServiceAttrs("sh", schedflags=frozenset({"sh-fallback"})))
    assert not same_service(v4, ServiceAttrs("wrr"), ServiceAttrs("rr"))
