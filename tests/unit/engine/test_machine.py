"""Random sequences of check results, maintenance, hand edits and reloads keep every invariant.

The machine plays the runtime's part (observe_check -> reconcile -> apply_ops on the memory
backend's kernel-faithful table) and checks after every step: the table is a fixpoint of
reconcile, no real out of service has a weight, every real in service has its configured
one, no real enters the table before its first success, the fallback is there exactly
when no real is up once all have been checked, the fallbackcommand state follows, the
unmanaged service is untouched, and an unchanged reload makes no operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ldirectord.config.model import CheckType, Config, Forwarding, RealServer, VirtualService
from ldirectord.engine import (
    UNKNOWN,
    CheckId,
    FallbackAction,
    Health,
    RealGroup,
    Status,
    carry_health,
    check_id,
    initial_health,
    managed_keys,
    observe_check,
    real_groups,
    reconcile,
)
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.model import (
    AddDest,
    DelDest,
    DestAttrs,
    DestKey,
    EditDest,
    Method,
    ServiceEntry,
    ServiceKey,
    Table,
)

from .factories import config, entry, fallback, real, tcp, virtual

POOL = (
    real("10.0.0.2", 80, Forwarding.MASQ, 2, upper_threshold=10, lower_threshold=5),
    real("10.0.0.3", 8080, Forwarding.GATE, 3),
    real("10.0.0.4", 0, Forwarding.MASQ, 1),
    real("10.0.0.5", 80, Forwarding.IPIP, 4),
)
PORTS = (80, 443)
OTHER = tcp("10.9.9.9", 25)
JUNK = DestKey("10.0.0.66", 80)
CHECKTYPES = (CheckType.NEGOTIATE, CheckType.ON, CheckType.OFF, CheckType.COMBINED)
LAYOUT = 9 * len(PORTS) + 1


def kernel_key(port: int, r: RealServer) -> DestKey:
    """Written out from ipvsadm's rule, not taken from the engine."""
    if r.forwarding is Forwarding.MASQ:
        return DestKey(r.host, r.port)
    return DestKey(r.host, port)


def configured(r: RealServer) -> DestAttrs:
    method = {Forwarding.MASQ: Method.MASQ, Forwarding.GATE: Method.ROUTE,
              Forwarding.IPIP: Method.TUNNEL}[r.forwarding]
    return DestAttrs(method, r.weight, r.upper_threshold, r.lower_threshold)


class EngineMachine(RuleBasedStateMachine):
    config: Config
    table: Table
    health: dict[CheckId, Health]
    maintenance: set[CheckId]
    commands: Mapping[ServiceKey, FallbackAction]
    checked: set[CheckId]
    before: Table  # the table the last reconcile started from
    found: tuple[RealGroup, ...]  # the config's check identities

    @initialize(layout=st.binary(min_size=LAYOUT, max_size=LAYOUT))
    def start(self, layout: bytes) -> None:
        """Decode the config and the table at start from bytes: cheap to draw, and they
        shrink towards no reals, negotiate checks, every option off, an empty table."""
        virtuals: list[VirtualService] = []
        held_by_port: dict[int, list[int]] = {}
        in_table: dict[int, int] = {}  # port -> option bits, for virtuals already there
        for i, port in enumerate(PORTS):
            mask, kind, every, flags, fails, *held = layout[i * 9:(i + 1) * 9]
            reals = tuple(r for bit, r in enumerate(POOL) if mask & (1 << bit))
            held_by_port[port] = held
            virtuals.append(virtual(
                reals, port=port, checktype=CHECKTYPES[kind % len(CHECKTYPES)],
                negotiate_every=every % 3, quiescent=bool(flags & 1),
                failurecount=1 + fails % 3,
                fallback=fallback("127.0.0.1", port) if flags & 2 else None,
                fallbackcommand="/bin/sorry" if flags & 4 else None,
            ))
            if flags & 8:
                in_table[port] = flags
        self.config = config(*virtuals, readdquiescent=bool(layout[-1] & 1))
        self.found = real_groups(self.config)
        table: dict[ServiceKey, ServiceEntry] = {OTHER: entry({JUNK: DestAttrs(Method.MASQ)})}
        for v in self.config.virtuals:
            if v.port not in in_table:
                continue  # the virtual is not in the table yet
            dests: dict[DestKey, DestAttrs] = {}
            for r in v.reals:
                # absent, in service, or at weight 0
                state = held_by_port[v.port][POOL.index(r)] % 3
                if state:
                    attrs = configured(r)
                    dests[kernel_key(v.port, r)] = (attrs if state == 1
                                                    else DestAttrs(attrs.method, 0))
            if v.fallback is not None and in_table[v.port] & 16:
                dests[DestKey("127.0.0.1", v.port)] = DestAttrs(Method.ROUTE, 1)
            if in_table[v.port] & 32:
                dests[JUNK] = DestAttrs(Method.MASQ, 1)
            table[tcp(port=v.port)] = entry(dests)
        self.table = table
        self.health = initial_health(self.config, table)
        self.maintenance = set()
        self.commands = {}
        self.checked = set()
        before = table
        self.reconcile()
        # Part A §2: nothing in service at start is taken out or changed
        for v in self.config.virtuals:
            have = before.get(tcp(port=v.port))
            for r in v.reals:
                was = have.dests.get(kernel_key(v.port, r)) if have else None
                if was is not None and was.weight > 0:
                    assert self.table[tcp(port=v.port)].dests[kernel_key(v.port, r)] == was

    def reconcile(self, managed: frozenset[ServiceKey] = frozenset()) -> None:
        self.before = self.table
        plan = reconcile(self.config, self.health, self.maintenance, self.table, managed,
                         self.commands)
        self.table = apply_ops(self.table, plan.ops)
        self.commands = plan.commands

    def identities(self) -> tuple[RealGroup, ...]:
        return self.found

    @precondition(lambda self: bool(self.identities()))
    @rule(pick=st.integers(0, 5), ok=st.booleans())
    def result(self, pick: int, ok: bool) -> None:
        found = self.identities()
        check = found[pick % len(found)]
        self.health[check.id], _ = observe_check(
            check, self.health.get(check.id, UNKNOWN), ok,
            maintenance=check.id in self.maintenance)
        self.checked.add(check.id)
        self.reconcile()

    @precondition(lambda self: bool(self.identities()))
    @rule(pick=st.integers(0, 5), on=st.booleans())
    def maintenance_file(self, pick: int, on: bool) -> None:
        found = self.identities()
        check = found[pick % len(found)]
        if on:
            self.maintenance.add(check.id)
            self.health[check.id], _ = observe_check(
                check, self.health.get(check.id, UNKNOWN), True, maintenance=True)
            self.checked.add(check.id)
        else:
            self.maintenance.discard(check.id)
        self.reconcile()

    @rule(port=st.sampled_from(PORTS), how=st.sampled_from(["delete", "junk", "weight"]),
          pick=st.integers(0, 5))
    def operator_edits_by_hand(self, port: int, how: str, pick: int) -> None:
        key = tcp(port=port)
        have = self.table.get(key)
        if have is None:
            return
        dests = list(have.dests)
        if how == "junk" and JUNK not in have.dests:
            self.table = apply_ops(self.table, [AddDest(key, JUNK, DestAttrs(Method.MASQ))])
        elif dests and how == "delete":
            self.table = apply_ops(self.table, [DelDest(key, dests[pick % len(dests)])])
        elif dests and how == "weight":
            dest = dests[pick % len(dests)]
            attrs = replace(have.dests[dest], weight=have.dests[dest].weight + 5)
            self.table = apply_ops(self.table, [EditDest(key, dest, attrs)])
        self.reconcile()

    @rule()
    def reload_unchanged(self) -> None:
        again = replace(self.config, virtuals=tuple(replace(v) for v in self.config.virtuals))
        health = carry_health(self.health, again, self.table)
        for cid, kept in self.health.items():
            assert health[cid] == kept
        plan = reconcile(again, health, self.maintenance, self.table,
                         managed_keys(self.config), self.commands)
        assert plan.ops == ()
        assert plan.events == ()

    def status(self, v: VirtualService, r: RealServer) -> Status:
        cid = check_id(v, r)
        if cid in self.maintenance:
            return Status.DOWN
        if v.checktype is CheckType.ON:
            return Status.UP
        if v.checktype is CheckType.OFF:
            return Status.UNKNOWN
        return self.health.get(cid, UNKNOWN).status

    @invariant()
    def table_is_a_fixpoint(self) -> None:
        plan = reconcile(self.config, self.health, self.maintenance, self.table,
                         frozenset(), self.commands)
        assert plan.ops == () and plan.events == ()

    @invariant()
    def unmanaged_service_untouched(self) -> None:
        assert self.table[OTHER] == entry({JUNK: DestAttrs(Method.MASQ)})

    @invariant()
    def reals_follow_their_health(self) -> None:
        for v in self.config.virtuals:
            dests = self.table[tcp(port=v.port)].dests
            for r in v.reals:
                status = self.status(v, r)
                held = dests.get(kernel_key(v.port, r))
                if status is Status.DOWN:
                    assert held is None or held.weight == 0
                    if not v.quiescent:
                        assert held is None
                elif status is Status.UP:
                    assert held == configured(r)
                elif check_id(v, r) not in self.checked and v.checktype is not CheckType.OFF:
                    # never added before its first success: only what was there stays
                    assert held is None or held.weight in (0, r.weight)
            assert JUNK not in dests

    @invariant()
    def fallback_iff_no_real_up(self) -> None:
        for v in self.config.virtuals:
            dests = self.table[tcp(port=v.port)].dests
            statuses = [self.status(v, r) for r in v.reals]
            some_up = False
            for s, r in zip(statuses, v.reals, strict=True):
                held = dests.get(kernel_key(v.port, r))
                warm = s is Status.UNKNOWN and held is not None and held.weight > 0
                some_up = some_up or s is Status.UP or warm
            all_known = Status.UNKNOWN not in statuses
            present = DestKey("127.0.0.1", v.port) in dests
            if v.fallback is None or v.checktype is CheckType.OFF:
                assert not present
            elif some_up:
                assert not present
            elif all_known:
                assert present
            else:  # waiting for first checks: the fallback stays as it was (Part A §2)
                was = self.before.get(tcp(port=v.port))
                assert present == (was is not None and DestKey("127.0.0.1", v.port) in was.dests)
            key = tcp(port=v.port)
            if v.fallbackcommand is None or v.checktype is CheckType.OFF:
                assert key not in self.commands
            elif some_up:
                assert self.commands[key] is FallbackAction.STOP
            elif all_known:
                assert self.commands[key] is FallbackAction.START

    @invariant()
    def failurecount_is_never_exceeded_while_up(self) -> None:
        for check in self.identities():
            health = self.health.get(check.id, UNKNOWN)
            if health.status is Status.UP:
                assert health.failures < check.policy.failurecount


EngineMachine.TestCase.settings = settings(
    max_examples=2000, stateful_step_count=8, deadline=None)
TestEngineMachine = EngineMachine.TestCase
