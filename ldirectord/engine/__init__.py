"""The pure decision core: health transitions, the desired table, and the diff to reach it.

Nothing in this package does I/O, reads a clock or is async; every function takes values
and returns values. The runtime drives it like this:

    from ldirectord import engine

    groups = engine.real_groups(config)             # one RealGroup per check identity
    health = engine.initial_health(config, table)   # {CheckId: Health}; missing = UNKNOWN
    plan = engine.reconcile(config, health, maintenance=set(), actual=table)
    apply plan.ops; log e.message for e in plan.events; keep plan.commands

    # per check identity (group.id), each on its own schedule:
    probe = engine.next_probe(health.get(group.id, UNKNOWN), group.policy)  # combined N
    ... run the check (negotiate or connect) ...
    h, events = engine.observe_check(group, health.get(group.id, UNKNOWN), ok,
                                     maintenance=in_maintenance)
    health[group.id] = h; log the events (soft failures)
    plan = engine.reconcile(config, health, maint, await backend.read(),
                            commands=plan.commands)
    apply, log, mail, run FallbackCommand events

    # reload: new_health = engine.carry_health(health, new_config, table)
    #         engine.reconcile(new_config, new_health, maint, table,
    #                          managed=engine.managed_keys(old_config), commands=...)
    # stop:   engine.shutdown(config, table)     (cleanstop)

This package exports what drives the engine; the event classes are in `engine.events`,
the kernel keys in `ldirectord.config.keys`, the diff in `engine.diff`.

Modules:
- health.py: `Status` (UNKNOWN/UP/DOWN), `Health`, `Policy`, `observe`, `next_probe`,
  `HealthEvent` (the transition table is in its header).
- identity.py: `CheckId` (the original's real id), `RealGroup` (an identity and the
  (virtual, real) pairs it feeds), `real_groups`, `check_id`, `initial_health`,
  `carry_health`.
- ldirectord/config/keys.py (not here: the checks at load time use it too): where the
  kernel holds things (the gate/ipip port mapping table in its header):
  `service_key`, `service_attrs`, `dest_key`, `fallback_key`, `dest_attrs`.
- planner.py: `desired_table` (its header has the truth tables: reals by status x
  quiescent x current entry, and the fallback while reals are still UNKNOWN).
- layout.py: a config worked out once (identities, keys, attributes), memoised per
  Config object so that a reconcile at thousands of reals stays cheap.
- diff.py: `diff(desired, actual, managed) -> list[Op]`.
- events.py: the `Event` protocol and its classes, with the original's exact log text
  (`.message`), e-mail subject (`.mail_subject`), reminder start/clear (`.reminder`,
  `.reminder_key`), and `FallbackCommand` (`.arguments`).
- reconcile.py: `reconcile`, `shutdown`, `observe_check`, `managed_keys`, `Plan`.

Decisions worth knowing when reading the log (see the module headers for the rest):
- A real is never added before its first successful check, unless it is already in
  service in the table at start (Part A §2); the fallback goes in only once every real of
  the virtual has been checked and none is up, and a fallback already there stays while
  reals are still unchecked.
- The fallbackcommand runs `start`/`stop` when a virtual's decision changes, deduplicated
  per virtual; its first run is that first decision, not an unconditional `start` at
  every start-up as in the original.
- A real shared by several virtuals (one identity) counts its failures once per check,
  against the failurecount of the first virtual; soft failure lines name every virtual.
- checktype=off never adds a real nor the fallback and never runs the fallbackcommand;
  reals already in the table stay (they are UNKNOWN forever).
"""

from __future__ import annotations

from ldirectord.engine.events import Event, FallbackAction, FallbackCommand, Tag
from ldirectord.engine.health import UNKNOWN, Health, Policy, Probe, Status, next_probe
from ldirectord.engine.identity import (
    CheckId,
    RealGroup,
    carry_health,
    check_id,
    initial_health,
    real_groups,
)
from ldirectord.engine.planner import desired_table
from ldirectord.engine.reconcile import Plan, managed_keys, observe_check, reconcile, shutdown

__all__ = [
    "UNKNOWN",
    "CheckId",
    "Event",
    "FallbackAction",
    "FallbackCommand",
    "Health",
    "Plan",
    "Policy",
    "Probe",
    "RealGroup",
    "Status",
    "Tag",
    "carry_health",
    "check_id",
    "desired_table",
    "initial_health",
    "managed_keys",
    "next_probe",
    "observe_check",
    "real_groups",
    "reconcile",
    "shutdown",
]
