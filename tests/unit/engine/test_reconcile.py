"""reconcile/shutdown scenarios: start-up without churn, take-out and put-back, fallback,
fallbackcommand, reload and cleanstop, with the exact log lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ldirectord.config.model import CheckType, Config, Forwarding, RealServer, VirtualService
from ldirectord.engine import (
    UNKNOWN,
    CheckId,
    Event,
    FallbackAction,
    FallbackCommand,
    Health,
    Plan,
    Status,
    carry_health,
    check_id,
    initial_health,
    managed_keys,
    observe_check,
    real_groups,
    reconcile,
    shutdown,
)
from ldirectord.engine.events import DestEvent, SoftFailure
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.model import (
    DelDest,
    DestAttrs,
    DestKey,
    Method,
    ServiceAttrs,
    ServiceEntry,
    ServiceKey,
    Table,
)

from .factories import config, entry, fallback, real, tcp, virtual

A = real("10.0.0.2", 80, Forwarding.MASQ, 2)
B = real("10.0.0.3", 8080, Forwarding.GATE, 3)
FB = fallback("127.0.0.1", 80)
OTHER = tcp("10.9.9.9", 25)  # a service this daemon does not manage


def messages(plan: Plan) -> list[str]:
    return [e.message for e in plan.events if e.message is not None]


def commands_of(plan: Plan) -> list[tuple[str, ...]]:
    return [e.arguments for e in plan.events if isinstance(e, FallbackCommand)]


class Director:
    """A tiny driver: the runtime's loop over the engine, on the memory table."""

    def __init__(self, cfg: Config, table: Table | None = None) -> None:
        self.config = cfg
        self.table: Table = dict(table or {})
        self.health: dict[CheckId, Health] = initial_health(cfg, self.table)
        self.maintenance: set[CheckId] = set()
        self.commands: Mapping[ServiceKey, FallbackAction] = {}
        self.plan = Plan()

    def reconcile(self, managed: frozenset[ServiceKey] = frozenset()) -> Plan:
        self.plan = reconcile(self.config, self.health, self.maintenance, self.table,
                              managed, self.commands)
        self.table = apply_ops(self.table, self.plan.ops)
        self.commands = self.plan.commands
        return self.plan

    def result(self, r: RealServer, ok: bool, v: VirtualService | None = None,
               maintenance: bool = False) -> list[str]:
        vs = v or self.config.virtuals[0]
        cid = check_id(vs, r)
        (check,) = [c for c in real_groups(self.config) if c.id == cid]
        self.health[cid], events = observe_check(check, self.health.get(cid, UNKNOWN), ok,
                                                 maintenance=maintenance)
        return [e.message for e in events if e.message] + messages(self.reconcile())

    def dests(self, key: ServiceKey | None = None) -> Mapping[DestKey, DestAttrs]:
        return self.table[key or tcp()].dests


def test_cold_start_adds_nothing_before_first_checks() -> None:
    d = Director(config(virtual((A, B), fallback=FB, fallbackcommand="/bin/sorry")))
    assert messages(d.reconcile()) == ["Added virtual server: 10.0.0.1:80"]
    assert d.dests() == {}
    assert commands_of(d.plan) == []
    # one real fails: the other is still unknown, so no fallback yet (Part A §2)
    assert d.result(A, False) == []
    assert d.result(B, False) == [
        "Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)"]
    assert commands_of(d.plan) == [("start", "10.0.0.1:80", "tcp")]
    assert d.result(A, True) == [
        "Resetting soft failure count: 10.0.0.2:80 (tcp:10.0.0.1:80)",
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)",
        "Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)",
    ]
    assert commands_of(d.plan) == [("stop", "10.0.0.1:80", "tcp")]
    assert d.result(B, True) == [
        "Resetting soft failure count: 10.0.0.3:8080 (tcp:10.0.0.1:80)",
        "Added real server: 10.0.0.3:8080 (10.0.0.1:80) (Weight set to 3)",
    ]
    assert commands_of(d.plan) == []  # deduplicated
    assert d.dests() == {DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 2),
                         DestKey("10.0.0.3", 80): DestAttrs(Method.ROUTE, 3)}


def test_cold_start_first_success_is_quiet_and_runs_stop_once() -> None:
    d = Director(config(virtual((A,), fallbackcommand="/bin/sorry")))
    d.reconcile()
    assert d.result(A, True) == ["Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)"]
    assert commands_of(d.plan) == [("stop", "10.0.0.1:80", "tcp")]


def warm_table(attrs: ServiceAttrs | None = None) -> dict[ServiceKey, ServiceEntry]:
    return {
        tcp(): entry({DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 2),
                      DestKey("10.0.0.3", 80): DestAttrs(Method.ROUTE, 3),
                      DestKey("10.0.0.7", 80): DestAttrs(Method.MASQ, 1)}, attrs),
        OTHER: entry({DestKey("10.9.9.10", 25): DestAttrs(Method.MASQ, 1)}),
    }


def test_warm_start_keeps_reals_and_purges_strangers() -> None:
    d = Director(config(virtual((A, B), fallback=FB)), warm_table())
    assert messages(d.reconcile()) == ["Purged real server (start): 10.0.0.7:80 (10.0.0.1:80)"]
    assert d.table[OTHER] == warm_table()[OTHER]
    # in service at start counts as up: a failure is a soft failure with failurecount=2
    d2 = Director(config(virtual((A, B), failurecount=2)), warm_table())
    d2.reconcile()
    assert d2.result(A, False) == [
        "Soft failure real server: 10.0.0.2:80 (tcp:10.0.0.1:80) failure 1/2"]
    assert d2.result(A, True) == ["Resetting soft failure count: 10.0.0.2:80 (tcp:10.0.0.1:80)"]


def test_warm_start_edits_the_virtual_only_when_it_differs() -> None:
    d = Director(config(virtual((A, B), scheduler="rr")), warm_table(ServiceAttrs("wrr")))
    assert messages(d.reconcile())[0] == "Changed virtual server: 10.0.0.1:80"
    assert d.table[tcp()].attrs == ServiceAttrs("rr")
    assert messages(d.reconcile()) == []


def test_warm_start_keeps_a_fallback_while_reals_are_pending() -> None:
    table = {tcp(): entry({DestKey("127.0.0.1", 80): DestAttrs(Method.ROUTE, 1)})}
    d = Director(config(virtual((A, B), fallback=FB)), table)
    assert messages(d.reconcile()) == []
    assert d.result(A, True) == [
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)",
        "Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)",
    ]


def test_take_out_and_put_back_quiescent_no() -> None:
    d = Director(config(virtual((A,), checktype=CheckType.NEGOTIATE)))
    d.reconcile()
    d.result(A, True)
    assert d.result(A, False) == ["Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"]
    assert d.dests() == {}
    assert d.result(A, True) == [
        "Resetting soft failure count: 10.0.0.2:80 (tcp:10.0.0.1:80)",
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)",
    ]


def test_take_out_and_put_back_quiescent_gate_port_mapped() -> None:
    d = Director(config(virtual((B,), quiescent=True)))
    d.reconcile()
    d.result(B, True)
    assert d.result(B, False) == [
        "Quiescent real server: 10.0.0.3:80 mapped from 10.0.0.3:8080 (10.0.0.1:80) "
        "(Weight set to 0)"]
    assert d.dests() == {DestKey("10.0.0.3", 80): DestAttrs(Method.ROUTE, 0)}
    # Part A §9: the mapped entry is found and restored (the original never restores it)
    assert d.result(B, True)[-1] == (
        "Restored real server: 10.0.0.3:8080 (10.0.0.1:80) (Weight set to 3)")
    assert d.dests() == {DestKey("10.0.0.3", 80): DestAttrs(Method.ROUTE, 3)}


def test_quiescent_real_absent_stays_absent_unless_readdquiescent() -> None:
    for readd, expected in ((False, []), (True, [
            "Readd Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)"])):
        d = Director(config(virtual((A,), quiescent=True), readdquiescent=readd))
        d.reconcile()
        assert d.result(A, False) == expected
        plan = d.plan
        for event in plan.events:
            assert isinstance(event, DestEvent)
            assert event.mail_subject == (
                "Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)")


def test_maintenance_forces_down_and_back() -> None:
    d = Director(config(virtual((A,), failurecount=3)))
    d.reconcile()
    d.result(A, True)
    assert d.result(A, True, maintenance=True) == [
        "Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"]
    assert d.result(A, True)[-1] == (
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)")


def test_an_operator_deleting_a_real_gets_it_back() -> None:
    d = Director(config(virtual((A,))))
    d.reconcile()
    d.result(A, True)
    d.table = apply_ops(d.table, [DelDest(tcp(), DestKey("10.0.0.2", 80))])
    assert messages(d.reconcile()) == [
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)"]


def test_shared_identity_logs_soft_failures_per_virtual() -> None:
    v1 = virtual((A,), failurecount=3)
    v2 = virtual((A,), address="10.0.0.9", failurecount=5)
    d = Director(config(v1, v2))
    d.reconcile()
    d.result(A, True)
    assert d.result(A, False) == [
        "Soft failure real server: 10.0.0.2:80 (tcp:10.0.0.1:80) failure 1/3",
        "Soft failure real server: 10.0.0.2:80 (tcp:10.0.0.9:80) failure 1/3",
    ]
    assert d.dests(tcp("10.0.0.9")) == {DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 2)}


def test_checktype_off_activates_nothing_and_keeps_what_is_there() -> None:
    cfg = config(virtual((A, B), checktype=CheckType.OFF, fallback=FB,
                         fallbackcommand="/bin/sorry"))
    d = Director(cfg)
    assert messages(d.reconcile()) == ["Added virtual server: 10.0.0.1:80"]
    assert d.dests() == {}
    warm = {tcp(): entry({DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 2)})}
    d = Director(cfg, warm)
    assert d.reconcile().ops == ()
    assert commands_of(d.plan) == []


def test_checktype_on_is_always_up() -> None:
    d = Director(config(virtual((A,), checktype=CheckType.ON, fallback=FB)))
    assert messages(d.reconcile()) == [
        "Added virtual server: 10.0.0.1:80",
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 2)",
    ]


def test_reload_of_an_unchanged_config_changes_nothing() -> None:
    cfg = config(virtual((A, B), fallback=FB, quiescent=True, fallbackcommand="/bin/x"))
    d = Director(cfg)
    d.reconcile()
    d.result(A, True)
    d.result(B, False)
    again = config(virtual((A, B), fallback=FB, quiescent=True, fallbackcommand="/bin/x"))
    health = carry_health(d.health, again, d.table)
    assert health == d.health
    plan = reconcile(again, health, d.maintenance, d.table, managed_keys(cfg), d.commands)
    assert plan.ops == () and plan.events == ()
    assert plan.commands == d.commands


def test_reload_purges_dropped_virtuals_and_spares_unmanaged() -> None:
    old = config(virtual((A,)), virtual((B,), address="10.0.0.5"))
    d = Director(old, {OTHER: entry()})
    d.reconcile()
    d.result(A, True)
    new = config(virtual((A, real("10.0.0.4"))))
    d.health = carry_health(d.health, new, d.table)
    d.config = new
    assert messages(d.reconcile(managed_keys(old))) == [
        "Purged virtual server (start): 10.0.0.5:80"]
    assert set(d.table) == {tcp(), OTHER}
    # the new real waits for its first check; the kept one kept its health
    assert d.dests() == {DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 2)}


def test_cleanstop() -> None:
    cfg = config(virtual((A, B), quiescent=True, fallback=FB),
                 virtual((A,), address="10.0.0.9", cleanstop=False))
    d = Director(cfg, {OTHER: entry()})
    d.reconcile()
    d.result(A, True)
    d.result(B, True)
    d.result(B, False)  # quiesced: goes away with the virtual
    plan = shutdown(cfg, d.table)
    assert messages(plan) == [
        "Purged real server (stop): 10.0.0.2:80 (10.0.0.1:80)",
        "Purged virtual server (stop): 10.0.0.1:80",
    ]
    after = apply_ops(d.table, plan.ops)
    assert set(after) == {tcp("10.0.0.9"), OTHER}
    assert after[tcp("10.0.0.9")] == d.table[tcp("10.0.0.9")]
    assert all(e.mail_subject for e in plan.events if isinstance(e, DestEvent))
    assert shutdown(cfg, after).ops == ()


def test_events_carry_their_ops_in_order() -> None:
    d = Director(config(virtual((A,), checktype=CheckType.ON, fallback=FB)))
    plan = d.reconcile()
    described: Sequence[Event] = [e for e in plan.events if not isinstance(e, FallbackCommand)]
    assert [getattr(e, "op", None) for e in described] == list(plan.ops)


def test_soft_failure_event_values() -> None:
    d = Director(config(virtual((A,), failurecount=2)))
    d.reconcile()
    d.result(A, True)
    cid = check_id(d.config.virtuals[0], A)
    (check,) = real_groups(d.config)
    _, events = observe_check(check, d.health[cid], False)
    assert events == (SoftFailure(d.config.virtuals[0], "10.0.0.2:80", 1, 2),)
    assert d.health[cid] == Health(Status.UP)


def test_a_real_configured_at_weight_zero_is_added_not_readded() -> None:
    z = real("10.0.0.2", 80, Forwarding.MASQ, 0)
    d = Director(config(virtual((z,), quiescent=True, fallback=FB)))
    d.reconcile()
    assert d.result(z, True) == ["Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)"]
    assert d.result(z, False) == [
        "Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)"]
    assert d.dests()[DestKey("10.0.0.2", 80)] == DestAttrs(Method.MASQ, 0)


def test_reload_with_a_new_weight_restores_in_place() -> None:
    d = Director(config(virtual((A,))))
    d.reconcile()
    d.result(A, True)
    heavier = real("10.0.0.2", 80, Forwarding.MASQ, 9)
    new = config(virtual((heavier,)))
    d.health = carry_health(d.health, new, d.table)
    old, d.config = d.config, new
    assert messages(d.reconcile(managed_keys(old))) == [
        "Restored real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 9)"]
    assert d.health[check_id(new.virtuals[0], heavier)] == Health(Status.UP)


def test_reload_turning_quiescent_on_keeps_a_down_real_out() -> None:
    d = Director(config(virtual((A, B), fallback=FB)))
    d.reconcile()
    d.result(A, True)
    d.result(B, False)
    new = config(virtual((A, B), fallback=FB, quiescent=True))
    d.health = carry_health(d.health, new, d.table)
    old, d.config = d.config, new
    assert messages(d.reconcile(managed_keys(old))) == []  # absent stays absent
    assert d.result(A, False) == [
        "Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)",
        "Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)",
    ]
