"""The one contract every IPVS backend keeps: memory, netlink and ipvsadm run the same cases.

The memory table must behave like the kernel, and this suite is what proves it: each
case runs against the memory backend on any machine and against netlink and ipvsadm
inside the IPVS VM, comparing `read()` with the table `apply_ops` predicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from ldirectord.config.model import IpvsProtocol
from ldirectord.errors import AlreadyExists, InvalidArgument, IPVSError, NotFound
from ldirectord.ipvs.backend import Backend
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
    Op,
    ServiceAttrs,
    ServiceKey,
    Table,
)
from tests.kernel.entries import ALL_OPS, KINDS, fwm, tcp, udp

VIP = tcp("10.5.0.1", 80)
RIP = DestKey("10.5.0.2", 80)
BASE: list[Op] = [AddService(VIP, ServiceAttrs("wrr")), AddDest(VIP, RIP, DestAttrs(Method.MASQ))]


def plain(table: Table) -> dict[object, object]:
    """A table as plain dicts, for equality and readable assertion output."""
    return {k: (e.attrs, dict(e.dests)) for k, e in table.items()}


async def applied(backend: Backend, ops: Sequence[Op]) -> dict[object, object]:
    await backend.apply(ops)
    return plain(await backend.read())


@pytest.mark.asyncio
async def test_every_kind_of_entry_reads_back_as_applied(backend: Backend) -> None:
    """IPv4, IPv6, fwmarks of both families, tcp/udp, every scheduler, persistence with
    netmasks, thresholds, one-packet scheduling and scheduler flags (tests/kernel/entries.py).
    """
    table = await applied(backend, ALL_OPS)
    assert table == plain(apply_ops({}, ALL_OPS))
    assert len(table) == len([op for op in ALL_OPS if isinstance(op, AddService)]) > 20
    assert set(KINDS) >= {"tcp-v6", "fwm-v6", "every-scheduler", "thresholds"}


@pytest.mark.asyncio
async def test_empty_table_reads_empty(backend: Backend) -> None:
    assert await backend.read() == {}


@pytest.mark.asyncio
async def test_edit_service_replaces_attributes_and_keeps_dests(backend: Backend) -> None:
    new = ServiceAttrs("sh", 900, "255.255.255.0", schedflags=frozenset({"sh-fallback"}))
    table = await applied(backend, [*BASE, EditService(VIP, new)])
    assert table == {VIP: (new, {RIP: DestAttrs(Method.MASQ)})}
    back = ServiceAttrs("rr")
    assert await applied(backend, [EditService(VIP, back)]) == {
        VIP: (back, {RIP: DestAttrs(Method.MASQ)})}


@pytest.mark.asyncio
async def test_delete_service_removes_its_dests(backend: Backend) -> None:
    other = udp("10.5.0.1", 80)
    await backend.apply([*BASE, AddService(other, ServiceAttrs("rr"))])
    table = await applied(backend, [DelService(VIP)])
    assert table == {other: (ServiceAttrs("rr"), {})}


@pytest.mark.asyncio
@pytest.mark.parametrize("attrs", [
    DestAttrs(Method.ROUTE, 0),
    DestAttrs(Method.TUNNEL, 9, 30, 10),
    DestAttrs(Method.MASQ, 65535, 0, 0),
], ids=["quiesce-gate", "ipip-thresholds", "masq-max"])
async def test_edit_dest_replaces_every_field(backend: Backend, attrs: DestAttrs) -> None:
    first = DestAttrs(Method.MASQ, 4, 20, 5)
    await backend.apply([AddService(VIP, ServiceAttrs("wrr")), AddDest(VIP, RIP, first)])
    assert await applied(backend, [EditDest(VIP, RIP, attrs)]) == {
        VIP: (ServiceAttrs("wrr"), {RIP: attrs})}


@pytest.mark.asyncio
async def test_delete_dest_keeps_the_others(backend: Backend) -> None:
    second = DestKey("10.5.0.3", 80)
    await backend.apply([*BASE, AddDest(VIP, second, DestAttrs(Method.MASQ, 2))])
    assert await applied(backend, [DelDest(VIP, RIP)]) == {
        VIP: (ServiceAttrs("wrr"), {second: DestAttrs(Method.MASQ, 2)})}


@pytest.mark.asyncio
async def test_ipv6_and_fwmark_edit_and_delete(backend: Backend) -> None:
    v6, mark6, mark4 = tcp("2001:db8::10", 80), fwm(10, ipv6=True), fwm(10)
    d6 = DestKey("2001:db8::11", 80)
    await backend.apply([
        AddService(v6, ServiceAttrs("wrr")), AddDest(v6, d6, DestAttrs(Method.MASQ)),
        AddService(mark6, ServiceAttrs("rr")), AddDest(mark6, DestKey("::1", 0),
                                                       DestAttrs(Method.ROUTE)),
        AddService(mark4, ServiceAttrs("rr")),
    ])
    table = await applied(backend, [
        EditDest(v6, d6, DestAttrs(Method.ROUTE, 0)), EditService(mark6, ServiceAttrs("lc")),
        DelDest(mark6, DestKey("::1", 0)), DelService(mark4)])
    assert table == {v6: (ServiceAttrs("wrr"), {d6: DestAttrs(Method.ROUTE, 0)}),
                     mark6: (ServiceAttrs("lc"), {})}


REFUSED: list[tuple[str, list[Op], Op, type[IPVSError]]] = [
    ("duplicate-service", BASE, AddService(VIP, ServiceAttrs("rr")), AlreadyExists),
    ("duplicate-dest", BASE, AddDest(VIP, RIP, DestAttrs(Method.ROUTE, 5)), AlreadyExists),
    ("edit-missing-service", [], EditService(VIP, ServiceAttrs("rr")), NotFound),
    ("delete-missing-service", [], DelService(VIP), NotFound),
    ("dest-in-missing-service", [], AddDest(VIP, RIP, DestAttrs(Method.MASQ)), NotFound),
    ("edit-missing-dest", BASE, EditDest(VIP, DestKey("10.5.0.9", 80), DestAttrs(Method.MASQ)),
     NotFound),
    ("delete-missing-dest", BASE, DelDest(VIP, DestKey("10.5.0.9", 80)), NotFound),
    ("delete-missing-fwmark", [], DelService(fwm(77)), NotFound),
    ("unknown-scheduler", [], AddService(VIP, ServiceAttrs("nosuch")), NotFound),
    ("edit-to-unknown-scheduler", BASE, EditService(VIP, ServiceAttrs("nosuch")), NotFound),
    ("lower-above-upper", BASE,
     AddDest(VIP, DestKey("10.5.0.4", 80), DestAttrs(Method.MASQ, 1, 5, 10)), InvalidArgument),
    ("lower-without-upper", BASE,
     EditDest(VIP, RIP, DestAttrs(Method.MASQ, 1, 0, 3)), InvalidArgument),
    ("v6-real-masq-in-v4", BASE,
     AddDest(VIP, DestKey("2001:db8::5", 80), DestAttrs(Method.MASQ)), InvalidArgument),
    ("ops-on-tcp", [], AddService(VIP, ServiceAttrs("rr", ops=True)), InvalidArgument),
    ("sh-flag-without-sh", [],
     AddService(VIP, ServiceAttrs("wrr", schedflags=frozenset({"sh-port"}))), InvalidArgument),
    ("fwmark-with-a-protocol", [],
     AddService(ServiceKey(IpvsProtocol.TCP, None, 0, fwmark=5), ServiceAttrs("rr")),
     InvalidArgument),
    ("bad-v6-prefix", [],
     AddService(tcp("2001:db8::9", 80), ServiceAttrs("rr", 60, "129")), InvalidArgument),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("before", "op", "error"), [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
async def test_refusals_are_typed_and_change_nothing(
    backend: Backend, before: list[Op], op: Op, error: type[IPVSError]
) -> None:
    await backend.apply(before)
    expected = await backend.read()
    with pytest.raises(error) as caught:
        await backend.apply([op])
    assert type(caught.value) is error
    assert caught.value.op == op
    after = await backend.read()
    assert plain(after) == plain(expected)
    with pytest.raises(error):
        apply_ops(after, [op])


@pytest.mark.asyncio
async def test_apply_stops_at_the_first_refusal(backend: Backend) -> None:
    first, last = tcp("10.6.0.1", 80), tcp("10.6.0.2", 80)
    ops: list[Op] = [AddService(first, ServiceAttrs("rr")), AddService(first, ServiceAttrs("rr")),
                     AddService(last, ServiceAttrs("rr"))]
    with pytest.raises(AlreadyExists) as caught:
        await backend.apply(ops)
    assert caught.value.op is ops[1]
    assert plain(await backend.read()) == {first: (ServiceAttrs("rr"), {})}


@pytest.mark.asyncio
async def test_canonical_forms_read_back_alike(backend: Backend) -> None:
    """Full masks mean "no mask", a mask needs persistence, flag names follow the scheduler."""
    a, b, c = tcp("10.7.0.1", 80), tcp("10.7.0.2", 80), tcp("2001:db8::7", 80)
    table = await applied(backend, [
        AddService(a, ServiceAttrs("sh", 60, "255.255.255.255", schedflags=frozenset({"flag-1"}))),
        AddService(b, ServiceAttrs("rr", None, "255.255.0.0")),
        AddService(c, ServiceAttrs("rr", 60, "128")),
    ])
    assert table == {a: (ServiceAttrs("sh", 60, None, schedflags=frozenset({"sh-fallback"})), {}),
                     b: (ServiceAttrs("rr"), {}), c: (ServiceAttrs("rr", 60), {})}


@pytest.mark.asyncio
@pytest.mark.parametrize("method", [Method.ROUTE, Method.TUNNEL, Method.MASQ])
async def test_real_port_differing_from_the_virtual(backend: Backend, method: Method) -> None:
    """The kernel keeps the port it is given; ipvsadm moves gate/ipip reals to the VIP's port.

    This is why the planner asks for gate/ipip reals under the virtual's port (SPEC Part
    A §9): that key is what every backend holds.
    """
    key = DestKey("10.5.0.8", 8080)
    await backend.apply([AddService(VIP, ServiceAttrs("wrr")),
                         AddDest(VIP, key, DestAttrs(method, 2))])
    moved = backend.name == "ipvsadm" and method is not Method.MASQ
    stored = replace(key, port=VIP.port) if moved else key
    assert plain(await backend.read()) == {VIP: (ServiceAttrs("wrr"),
                                                 {stored: DestAttrs(method, 2)})}
    # Edits with either port reach the stored real through ipvsadm; delete needs the real key.
    await backend.apply([EditDest(VIP, stored, DestAttrs(method, 0)), DelDest(VIP, stored)])
    assert plain(await backend.read()) == {VIP: (ServiceAttrs("wrr"), {})}


@pytest.mark.asyncio
async def test_fwmark_reals_keep_their_port(backend: Backend) -> None:
    mark = fwm(11)
    ops: list[Op] = [AddService(mark, ServiceAttrs("wrr")),
                     AddDest(mark, DestKey("10.5.0.9", 8080), DestAttrs(Method.ROUTE)),
                     AddDest(mark, DestKey("10.5.0.10", 0), DestAttrs(Method.TUNNEL))]
    assert await applied(backend, ops) == plain(apply_ops({}, ops))
