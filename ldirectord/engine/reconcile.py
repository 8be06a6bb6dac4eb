"""The runtime's entry points: one check result, one reconcile after every change, one shutdown.

    observe_check(group, health, ok)             -> (health', events)   log lines only
    reconcile(config, health, maintenance, actual, managed, commands, tag)
                                                 -> Plan(ops, events, commands')
    shutdown(config, actual)                     -> Plan for cleanstop (SPEC B §4.7)

A reconcile is `desired_state` then `diff`, with one event per operation (classified against the
config: a configured real, the fallback, or an unknown destination to purge) and the
fallbackcommand runs the change of "some real up" / "none up" calls for (SPEC B §4.4,
deduplicated per virtual through `commands`). The same call serves start-up, every check
result, reload and an operator's hand edits of the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import assert_never

from ldirectord.config.keys import real_key, service_key
from ldirectord.config.model import CheckType, Config, VirtualService
from ldirectord.engine.diff import diff
from ldirectord.engine.events import (
    DestChange,
    DestEvent,
    Event,
    FallbackAction,
    FallbackCommand,
    Role,
    ServiceChange,
    ServiceEvent,
    SoftFailure,
    SoftFailureReset,
    Tag,
)
from ldirectord.engine.health import Health, HealthEventKind, observe
from ldirectord.engine.identity import CheckId, RealGroup
from ldirectord.engine.layout import VirtualSlot, layout
from ldirectord.engine.planner import Standing, desired_state
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestKey,
    EditDest,
    EditService,
    Op,
    ServiceKey,
    Table,
)
from ldirectord.netloc import netloc

__all__ = ["Plan", "managed_keys", "observe_check", "reconcile", "shutdown"]


@dataclass(frozen=True, slots=True)
class Plan:
    """Operations to apply in order, the events they stand for, and the fallbackcommand
    state to pass to the next reconcile (last action run per virtual).

    Events that describe an operation carry it in `.op` (see `Event`).
    """

    ops: tuple[Op, ...] = ()
    events: tuple[Event, ...] = ()
    commands: Mapping[ServiceKey, FallbackAction] = field(default_factory=dict)


def managed_keys(config: Config) -> frozenset[ServiceKey]:
    """The services a config manages: pass the old config's to `reconcile` after a reload
    so that virtuals the new file dropped are purged."""
    return frozenset(service_key(v) for v in config.virtuals)


def observe_check(
    group: RealGroup, health: Health, ok: bool, *, maintenance: bool = False
) -> tuple[Health, tuple[Event, ...]]:
    """`health.observe` for one identity, with its soft failure log lines rendered for
    every virtual the identity feeds. Table changes come from the next `reconcile`.
    """
    new, happened = observe(health, ok, group.policy, maintenance=maintenance)
    events: list[Event] = []
    for event in happened:
        for virtual, server in _feeds(group):
            match event.kind:
                case HealthEventKind.SOFT_FAILURE:
                    events.append(SoftFailure(virtual, server, event.failures,
                                              event.failurecount))
                case HealthEventKind.RESET_SOFT_FAILURES:
                    events.append(SoftFailureReset(virtual, server))
                case HealthEventKind.WENT_UP | HealthEventKind.WENT_DOWN:
                    pass  # the table change that follows is the log line
                case _:
                    assert_never(event.kind)
    return new, tuple(events)


def _feeds(group: RealGroup) -> list[tuple[VirtualService, str]]:
    """Each virtual the identity feeds, once, with the real as log lines name it."""
    seen: dict[str, tuple[VirtualService, str]] = {}
    for virtual, real in group.members:
        seen.setdefault(virtual.vid, (virtual, netloc(real.host, real.port)))
    return list(seen.values())


def reconcile(
    config: Config,
    health: Mapping[CheckId, Health],
    maintenance: Set[CheckId],
    actual: Table,
    managed: Set[ServiceKey] = frozenset(),
    commands: Mapping[ServiceKey, FallbackAction] | None = None,
    tag: Tag = Tag.START,
) -> Plan:
    """What to do now so that the table matches `config` and `health`.

    `actual` is the table as just read; `managed` the services managed before this call
    that may have left the config (the old config's at a reload; the config's own are
    always managed); `commands` the previous Plan's `commands` ({} at start). `tag` is the
    word for purged entries (start at start-up and reload, as the original).
    """
    desired = desired_state(config, health, maintenance, actual)
    standings = desired.standings
    ops = diff(desired.table, actual, managed)
    slots = {slot.key: slot for slot in layout(config)}
    events: list[Event] = [_event(op, slots, desired.out_of_service, tag) for op in ops]
    last = dict(commands or {})
    new_commands: dict[ServiceKey, FallbackAction] = {}
    for key, slot in slots.items():
        virtual = slot.virtual
        if key in last:
            new_commands[key] = last[key]
        if virtual.fallbackcommand is None or virtual.checktype is CheckType.OFF:
            continue
        action = _command_action(standings[key])
        if action is not None and new_commands.get(key) is not action:
            new_commands[key] = action
            events.append(FallbackCommand(virtual, virtual.fallbackcommand, action))
    return Plan(tuple(ops), tuple(events), new_commands)


def _command_action(standing: Standing) -> FallbackAction | None:
    match standing:
        case Standing.SOME_UP:
            return FallbackAction.STOP
        case Standing.NONE_UP:
            return FallbackAction.START
        case Standing.PENDING:
            return None
        case _:
            assert_never(standing)


def _event(op: Op, slots: Mapping[ServiceKey, VirtualSlot],
           out: Set[tuple[ServiceKey, DestKey]], tag: Tag) -> Event:
    """Name an operation: which server it is about, and what happened to it."""
    match op:
        case AddService(key, _):
            return ServiceEvent(ServiceChange.ADDED, key, op, tag)
        case EditService(key, _):
            return ServiceEvent(ServiceChange.CHANGED, key, op, tag)
        case DelService(key):
            return ServiceEvent(ServiceChange.PURGED, key, op, tag)
        case AddDest(key, dest, attrs):
            virtual, role, server = _owner(slots[key], dest)
            change = DestChange.READDED if (key, dest) in out else DestChange.ADDED
            return DestEvent(change, role, virtual, key, dest, server, attrs.weight, op, tag)
        case EditDest(key, dest, attrs):
            virtual, role, server = _owner(slots[key], dest)
            change = DestChange.QUIESCED if (key, dest) in out else DestChange.RESTORED
            return DestEvent(change, role, virtual, key, dest, server, attrs.weight, op, tag)
        case DelDest(key, dest):
            slot = slots[key]
            if dest not in slot.owners:
                return DestEvent(DestChange.PURGED, Role.REAL, slot.virtual, key, dest,
                                 str(dest), 0, op, tag)
            virtual, role, server = _owner(slot, dest)
            return DestEvent(DestChange.DELETED, role, virtual, key, dest, server, 0, op, tag)
        case _:
            assert_never(op)


def _owner(slot: VirtualSlot, dest: DestKey) -> tuple[VirtualService, Role, str]:
    role, server = slot.owners[dest]
    return slot.virtual, role, server


def shutdown(config: Config, actual: Table) -> Plan:
    """cleanstop (SPEC B §4.7): for each virtual with cleanstop=yes that is in the table,
    delete each configured real in service (weight > 0) with `Purged real server (stop)`,
    then the virtual with `Purged virtual server (stop)`. cleanstop=no virtuals are left
    exactly as they are; no fallbackcommand runs.
    """
    ops: list[Op] = []
    events: list[Event] = []
    for virtual in config.virtuals:
        key = service_key(virtual)
        entry = actual.get(key)
        if not virtual.cleanstop or entry is None:
            continue
        seen: set[DestKey] = set()
        for real in virtual.reals:
            dest = real_key(virtual, real)
            attrs = entry.dests.get(dest)
            if dest in seen or attrs is None or attrs.weight == 0:
                continue
            seen.add(dest)
            op: Op = DelDest(key, dest)
            ops.append(op)
            events.append(DestEvent(DestChange.PURGED, Role.REAL, virtual, key, dest,
                                    netloc(real.host, real.port), 0, op, Tag.STOP))
        op = DelService(key)
        ops.append(op)
        events.append(ServiceEvent(ServiceChange.PURGED, key, op, Tag.STOP))
    return Plan(tuple(ops), tuple(events), {})
