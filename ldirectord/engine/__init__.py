"""The pure decision core: health transitions, the desired table, and the diff to reach it.

Nothing in this package does I/O, reads a clock or is async; every function takes values
and returns values. The runtime drives it like this:

    from ldirectord import engine

    checks = engine.checks(config)                  # one Check per check identity
    health = engine.initial_health(config, table)   # {RealId: Health}; missing = UNKNOWN
    plan = engine.reconcile(config, health, maintenance=set(), actual=table)
    apply plan.ops; log e.message for e in plan.events; keep plan.commands

    # per check identity (check.id), each on its own schedule:
    probe = engine.next_probe(health.get(check.id, UNKNOWN), check.policy)  # combined N
    ... run the check (negotiate or connect) ...
    h, events = engine.observe_check(check, health.get(check.id, UNKNOWN), ok,
                                     maintenance=in_maintenance)
    health[check.id] = h; log the events (soft failures)
    plan = engine.reconcile(config, health, maint, await backend.read(),
                            commands=plan.commands)
    apply, log, mail, run FallbackCommand events

    # reload: new_health = engine.carry_health(health, new_config, table)
    #         engine.reconcile(new_config, new_health, maint, table,
    #                          managed=engine.managed_keys(old_config), commands=...)
    # stop:   engine.shutdown(config, table)     (cleanstop)

Modules:
- health.py: `Status` (UNKNOWN/UP/DOWN), `Health`, `Policy`, `observe`, `next_probe`,
  `HealthEvent` (the transition table is in its header).
- identity.py: `RealId` (the original's real id), `Check` (an identity and the
  (virtual, real) pairs it feeds), `checks`, `real_id`, `initial_health`, `carry_health`.
- ldirectord/config/keys.py (not here: the checks at load time use it too): where the
  kernel holds things (the gate/ipip port mapping table in its header):
  `service_key`, `service_attrs`, `dest_key`, `fallback_key`, `dest_attrs`.
- planner.py: `plan` (the desired table; its header has the truth tables: reals by
  status x quiescent x current entry, and the fallback while reals are still UNKNOWN).
- layout.py: a config worked out once (identities, keys, attributes), memoised per
  Config object so that a reconcile at thousands of reals stays cheap.
- diff.py: `diff(desired, actual, managed) -> list[Op]`.
- events.py: the events with the original's exact log text (`.message`), e-mail subject
  (`.mail_subject`), reminder start/clear (`.reminder`, `.reminder_key`), and
  `FallbackCommand` (`.arguments`).
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

from ldirectord.engine.diff import diff, same_dest, same_service
from ldirectord.engine.events import (
    DestChange,
    DestEvent,
    Event,
    FallbackAction,
    FallbackCommand,
    Reminder,
    Role,
    ServiceChange,
    ServiceEvent,
    SoftFailure,
    SoftFailureReset,
    Tag,
    service_display,
)
from ldirectord.engine.health import (
    UNKNOWN,
    Health,
    HealthEvent,
    HealthEventKind,
    Policy,
    Probe,
    Status,
    next_probe,
    observe,
)
from ldirectord.engine.identity import (
    Check,
    RealId,
    carry_health,
    checks,
    initial_health,
    real_id,
)
from ldirectord.engine.planner import (
    dest_attrs,
    dest_key,
    fallback_key,
    plan,
    service_attrs,
    service_key,
)
from ldirectord.engine.reconcile import Plan, managed_keys, observe_check, reconcile, shutdown

__all__ = [
    "UNKNOWN",
    "Check",
    "DestChange",
    "DestEvent",
    "Event",
    "FallbackAction",
    "FallbackCommand",
    "Health",
    "HealthEvent",
    "HealthEventKind",
    "Plan",
    "Policy",
    "Probe",
    "RealId",
    "Reminder",
    "Role",
    "ServiceChange",
    "ServiceEvent",
    "SoftFailure",
    "SoftFailureReset",
    "Status",
    "Tag",
    "carry_health",
    "checks",
    "dest_attrs",
    "dest_key",
    "diff",
    "fallback_key",
    "initial_health",
    "managed_keys",
    "next_probe",
    "observe",
    "observe_check",
    "plan",
    "real_id",
    "reconcile",
    "same_dest",
    "same_service",
    "service_attrs",
    "service_display",
    "service_key",
    "shutdown",
]
