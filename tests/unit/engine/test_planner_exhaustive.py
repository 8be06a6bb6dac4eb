"""Every small case of the planner against tables computed here from the SPEC's rules.

Three reals chosen to cover the port mapping (masq on the virtual's port, gate on another
port, masq without a port) x {unknown, up, down, maintenance} x what the table holds for
each (absent, in service, at weight 0) x quiescent x readdquiescent x fallback (none,
configured and absent, configured and present) x checktype (negotiate, on, off).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from ldirectord.config.model import CheckType, Forwarding, RealServer
from ldirectord.engine import CheckId, Health, Status, check_id, desired_table
from ldirectord.engine.diff import diff
from ldirectord.engine.planner import Standing, desired_state
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.model import DestAttrs, DestKey, Method, ServiceAttrs, ServiceEntry

from .factories import config, fallback, real, tcp, virtual


@dataclass(frozen=True)
class Spec:
    real: RealServer
    kernel_key: DestKey  # written out by hand from ipvsadm's rules
    method: Method


SPECS = (
    Spec(real("10.0.0.2", 80, Forwarding.MASQ, 2, upper_threshold=10, lower_threshold=5),
         DestKey("10.0.0.2", 80), Method.MASQ),
    Spec(real("10.0.0.3", 8080, Forwarding.GATE, 3), DestKey("10.0.0.3", 80), Method.ROUTE),
    Spec(real("10.0.0.4", 0, Forwarding.MASQ, 1), DestKey("10.0.0.4", 0), Method.MASQ),
)
FALLBACK_KEY = DestKey("127.0.0.1", 80)
STATUSES = ("unknown", "up", "down", "maint")
HELD = ("absent", "in", "zero")


def in_service(spec: Spec) -> DestAttrs:
    r = spec.real
    return DestAttrs(spec.method, r.weight, r.upper_threshold, r.lower_threshold)


def held_attrs(spec: Spec, held: str) -> DestAttrs | None:
    if held == "in":
        return DestAttrs(spec.method, 7, 0, 0)  # in service, at a weight not configured
    if held == "zero":
        return DestAttrs(spec.method, 0, 0, 0)
    return None


def expected(statuses: tuple[str, ...], held: tuple[str, ...], quiescent: bool,
             readd: bool, fb: str, checktype: CheckType
             ) -> tuple[dict[DestKey, DestAttrs], str, set[DestKey]]:
    out: dict[DestKey, DestAttrs] = {}
    resting: set[DestKey] = set()  # entries of reals out of service
    some_up = some_pending = False
    for spec, status, have in zip(SPECS, statuses, held, strict=True):
        if status == "maint":
            eff = "down"
        elif checktype is CheckType.ON:
            eff = "up"
        elif checktype is CheckType.OFF:
            eff = "unknown"
        else:
            eff = status
        if eff == "up":
            out[spec.kernel_key] = in_service(spec)
            some_up = True
        elif eff == "down":
            if quiescent and (have != "absent" or readd):
                out[spec.kernel_key] = DestAttrs(spec.method, 0)
                resting.add(spec.kernel_key)
        elif have == "in":  # unknown, in service: treated as up until checked
            out[spec.kernel_key] = in_service(spec)
            some_up = True
        elif have == "zero":  # unknown at weight 0: left as it is
            out[spec.kernel_key] = DestAttrs(spec.method, 0)
            resting.add(spec.kernel_key)
            some_pending = True
        else:
            some_pending = True
    if fb != "none" and checktype is not CheckType.OFF and not some_up:
        if not some_pending or fb == "present":
            out[FALLBACK_KEY] = DestAttrs(Method.ROUTE, 1)
    standing = "some up" if some_up else "pending" if some_pending else "none up"
    return out, standing, resting


CONFIGS = list(itertools.product(
    [False, True], [False, True], ["none", "absent", "present"],
    [CheckType.NEGOTIATE, CheckType.ON, CheckType.OFF]))


@pytest.mark.parametrize(("quiescent", "readd", "fb", "checktype"), CONFIGS)
def test_every_case(quiescent: bool, readd: bool, fb: str, checktype: CheckType) -> None:
    v = virtual(tuple(s.real for s in SPECS), quiescent=quiescent, checktype=checktype,
                fallback=fallback() if fb != "none" else None)
    cfg = config(v, readdquiescent=readd)
    ids: list[CheckId] = [check_id(v, s.real) for s in SPECS]
    per_real = list(itertools.product(STATUSES, HELD))
    for combo in itertools.product(per_real, repeat=len(SPECS)):
        statuses = tuple(c[0] for c in combo)
        held = tuple(c[1] for c in combo)
        health = {cid: Health(Status.UP if st in ("up", "maint") else Status.DOWN)
                  for cid, st in zip(ids, statuses, strict=True) if st != "unknown"}
        maintenance = {cid for cid, st in zip(ids, statuses, strict=True) if st == "maint"}
        current: dict[DestKey, DestAttrs] = {}
        for spec, have in zip(SPECS, held, strict=True):
            attrs = held_attrs(spec, have)
            if attrs is not None:
                current[spec.kernel_key] = attrs
        if fb == "present":
            current[FALLBACK_KEY] = DestAttrs(Method.ROUTE, 1)
        actual = {tcp(): ServiceEntry(ServiceAttrs(), current)}

        want, standing, resting = expected(statuses, held, quiescent, readd, fb, checktype)
        desired = desired_state(cfg, health, maintenance, actual)
        table, standings = desired.table, desired.standings
        case = f"{statuses} {held}"
        assert table == {tcp(): ServiceEntry(ServiceAttrs(), want)}, case
        assert standings[tcp()] is Standing(standing), case
        assert desired.out_of_service == {(tcp(), k) for k in resting}, case
        # no real out of service keeps a weight
        dests = table[tcp()].dests
        for spec, st in zip(SPECS, statuses, strict=True):
            if st == "maint" or (st == "down" and checktype is CheckType.NEGOTIATE):
                assert spec.kernel_key not in dests or dests[spec.kernel_key].weight == 0
        # the kernel accepts the way there, and it lands exactly on the plan
        assert apply_ops(actual, diff(table, actual)) == table, case


def test_plan_is_desired_state_table() -> None:
    v = virtual((SPECS[0].real,), fallback=fallback())
    assert desired_table(config(v), {}, set(), {}) == desired_state(config(v), {}, set(), {}).table


def test_quiesced_entry_with_other_forwarding_is_rewritten() -> None:
    spec = SPECS[1]  # gate
    v = virtual((spec.real,), quiescent=True)
    cid = check_id(v, spec.real)
    actual = {tcp(): ServiceEntry(ServiceAttrs(), {spec.kernel_key: DestAttrs(Method.MASQ, 0)})}
    table = desired_table(config(v), {cid: Health(Status.DOWN)}, set(), actual)
    assert table[tcp()].dests == {spec.kernel_key: DestAttrs(Method.ROUTE, 0)}


def test_quiesced_entry_reported_local_is_kept() -> None:
    spec = SPECS[0]
    v = virtual((spec.real,), quiescent=True)
    held = DestAttrs(Method.LOCAL, 0, 4, 2)
    actual = {tcp(): ServiceEntry(ServiceAttrs(), {spec.kernel_key: held})}
    table = desired_table(config(v), {check_id(v, spec.real): Health(Status.DOWN)}, set(), actual)
    assert table[tcp()].dests == {spec.kernel_key: held}
    assert diff(table, actual) == []


def test_two_gate_reals_on_one_kernel_key() -> None:
    a = real("10.0.0.3", 8080, Forwarding.GATE, 3)
    b = real("10.0.0.3", 8081, Forwarding.GATE, 5)
    v = virtual((a, b), quiescent=True)
    key = DestKey("10.0.0.3", 80)
    actual = {tcp(): ServiceEntry(ServiceAttrs(), {key: DestAttrs(Method.ROUTE, 3)})}
    health = {check_id(v, a): Health(Status.DOWN), check_id(v, b): Health(Status.UP)}
    assert desired_table(config(v), health, set(), actual)[tcp()].dests == {
        key: DestAttrs(Method.ROUTE, 5)}
    health = {check_id(v, a): Health(Status.UP), check_id(v, b): Health(Status.UP)}
    assert desired_table(config(v), health, set(), actual)[tcp()].dests == {
        key: DestAttrs(Method.ROUTE, 3)}


def test_fwmark_keeps_real_ports() -> None:
    a = real("10.0.0.3", 8080, Forwarding.GATE)
    b = real("10.0.0.4", 0, Forwarding.IPIP)
    v = virtual((a, b), fwmark=7, checktype=CheckType.ON)
    (entry,) = desired_table(config(v), {}, set(), {}).values()
    assert entry.dests == {DestKey("10.0.0.3", 8080): DestAttrs(Method.ROUTE, 1),
                           DestKey("10.0.0.4", 0): DestAttrs(Method.TUNNEL, 1)}


def test_no_reals_and_a_fallback() -> None:
    v = virtual((), fallback=fallback("10.0.0.9", 8080, Forwarding.MASQ))
    assert desired_table(config(v), {}, set(), {})[tcp()].dests == {
        DestKey("10.0.0.9", 8080): DestAttrs(Method.MASQ, 1)}
