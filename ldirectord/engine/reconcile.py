"""The runtime's entry points: one check result, one reconcile after every change, one shutdown.

    observe_check(check, health, ok)             -> (health', events)   log lines only
    reconcile(config, health, maintenance, actual, managed, commands, tag)
                                                 -> Plan(ops, events, commands')
    shutdown(config, actual)                     -> Plan for cleanstop (SPEC B §4.7)

A reconcile is `plan` then `diff`, with one event per operation (classified against the
config: a configured real, the fallback, or an unknown destination to purge) and the
fallbackcommand runs the change of "some real up" / "none up" calls for (SPEC B §4.4,
deduplicated per virtual through `commands`). The same call serves start-up, every check
result, reload and an operator's hand edits of the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from ldirectord.config.model import Config
from ldirectord.engine.events import Event, FallbackAction, Tag
from ldirectord.engine.health import Health
from ldirectord.engine.identity import Check, RealId
from ldirectord.ipvs.model import Op, ServiceKey, Table

__all__ = ["Plan", "managed_keys", "observe_check", "reconcile", "shutdown"]


@dataclass(frozen=True, slots=True)
class Plan:
    """Operations to apply in order, the events they stand for, and the fallbackcommand
    state to pass to the next reconcile (last action run per virtual).

    Events that describe an operation carry it in `.op`: if applying stops at a refused
    operation, the runtime logs only the events of the operations that were applied.
    """

    ops: tuple[Op, ...] = ()
    events: tuple[Event, ...] = ()
    commands: Mapping[ServiceKey, FallbackAction] = field(default_factory=dict)


def managed_keys(config: Config) -> frozenset[ServiceKey]:
    """The services a config manages: pass the old config's to `reconcile` after a reload
    so that virtuals the new file dropped are purged."""
    raise NotImplementedError


def observe_check(
    check: Check, health: Health, ok: bool, *, maintenance: bool = False
) -> tuple[Health, tuple[Event, ...]]:
    """`health.observe` for one identity, with its soft failure log lines rendered for
    every virtual the identity feeds. Table changes come from the next `reconcile`.
    """
    raise NotImplementedError


def reconcile(
    config: Config,
    health: Mapping[RealId, Health],
    maintenance: Set[RealId],
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
    raise NotImplementedError


def shutdown(config: Config, actual: Table) -> Plan:
    """cleanstop (SPEC B §4.7): for each virtual with cleanstop=yes that is in the table,
    delete each configured real in service (weight > 0) with `Purged real server (stop)`,
    then the virtual with `Purged virtual server (stop)`. cleanstop=no virtuals are left
    exactly as they are; no fallbackcommand runs.
    """
    raise NotImplementedError
