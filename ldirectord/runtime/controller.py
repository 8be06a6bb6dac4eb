"""The controller: the only writer to the IPVS table, and the keeper of health.

Rules of this file:
- Every change goes the same way: read the table, `engine.reconcile`, apply the ops,
  then log the events of the ops that were applied (exact text from the engine), mail
  what the original mails, and run the fallbackcommand in the background.
- A batch of check results is observed first (soft-failure lines, monitor lines) and
  reconciled once, so a burst of results costs one read and one apply.
- A refused operation stops the apply (the backend's contract); the events of the applied
  ops are logged, the failure is logged, and `dirty` asks the supervisor for a repair
  reconcile later. Nothing here raises for what the kernel says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ldirectord import engine
from ldirectord.config.model import CheckType, Config, DaemonState, VirtualService
from ldirectord.engine import Check, FallbackAction, Health, Plan, RealId, Tag
from ldirectord.errors import IPVSError
from ldirectord.ipvs.backend import Backend
from ldirectord.ipvs.model import Op, ServiceKey, Table
from ldirectord.logsetup import log
from ldirectord.runtime.effects import Alerts, FallbackCommands, MonitorFiles, monitor_line
from ldirectord.runtime.scheduler import Outcome

MAINTENANCE_MESSAGE = "Server in maintenance"


def _op_text(op: Op) -> str:
    from ldirectord.ipvs.ipvsadm import ipvsadm_command

    return ipvsadm_command(op)


class Controller:
    """Health, maintenance and fallbackcommand state, and the one path to the kernel."""

    def __init__(self, config: Config, backend: Backend, alerts: Alerts,
                 fallbacks: FallbackCommands | None = None,
                 monitors: MonitorFiles | None = None) -> None:
        self.config = config
        self.backend = backend
        self.alerts = alerts
        self.fallbacks = fallbacks or FallbackCommands()
        self.monitors = monitors or MonitorFiles()
        self.health: dict[RealId, Health] = {}
        self.maintenance: set[RealId] = set()
        self.commands: dict[ServiceKey, FallbackAction] = {}
        self.state = DaemonState.STARTING
        self.dirty = False
        self.checks: dict[RealId, Check] = {c.id: c for c in engine.checks(config)}

    # -- the table ---------------------------------------------------------------------

    async def _read(self) -> Table | None:
        try:
            return await self.backend.read()
        except IPVSError as exc:
            log.info("Could not read the IPVS table: %s", exc)
            self.dirty = True
            return None

    async def _apply(self, plan: Plan) -> None:
        """Apply `plan`; log, mail and run what the applied part stands for."""
        failed: IPVSError | None = None
        if plan.ops:
            try:
                await self.backend.apply(plan.ops)
            except IPVSError as exc:
                failed = exc
        applied = _applied_ops(plan.ops, failed)
        for event in plan.events:
            op = getattr(event, "op", None)
            if op is not None and op not in applied:
                continue
            self._emit(event)
        if failed is not None:
            what = _op_text(failed.op) if failed.op is not None else "IPVS update"
            log.info("system(%s) failed: %s", what, failed)
            self.dirty = True
        else:
            self.commands = dict(plan.commands)

    def _emit(self, event: engine.Event) -> None:
        if isinstance(event, engine.FallbackCommand):
            self.commands[engine.service_key(event.virtual)] = event.action
            self.fallbacks.run(event.virtual.vid, event.command, event.arguments)
            return
        if event.message is not None:
            log.info("%s", event.message)
        if event.mail_subject is not None:
            virtual: VirtualService | None = getattr(event, "virtual", None)
            self.alerts.event(event, virtual, self.state)

    async def reconcile(self, tag: Tag = Tag.START,
                        managed: frozenset[ServiceKey] = frozenset()) -> bool:
        """Make the table match config + health now; False if the table could not be read."""
        table = await self._read()
        if table is None:
            return False
        self.dirty = False
        plan = engine.reconcile(self.config, self.health, self.maintenance, table,
                                managed=managed, commands=self.commands, tag=tag)
        await self._apply(plan)
        return True

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> bool:
        """Start-up: seed health from the table (Part A §2) and reconcile."""
        table = await self._read()
        if table is None:
            return False
        self.health = engine.initial_health(self.config, table)
        plan = engine.reconcile(self.config, self.health, self.maintenance, table,
                                commands=self.commands, tag=Tag.START)
        await self._apply(plan)
        return True

    async def reload(self, new: Config) -> bool:
        """Switch to `new`, keeping the health of identities present in both (Part A §4).

        False, with nothing changed, when the table cannot be read or the engine cannot
        work the new config out (a bug of ours: a failed reload, Part A §14).
        """
        table = await self._read()
        if table is None:
            return False
        old = self.config
        try:  # pure work first: an exception here must leave every piece of state as it was
            health = engine.carry_health(self.health, new, table)
            checks = {c.id: c for c in engine.checks(new)}
            maintenance = self.maintenance & set(checks)
            plan = engine.reconcile(new, health, maintenance, table,
                                    managed=engine.managed_keys(old), commands=self.commands,
                                    tag=Tag.START)
        except Exception as exc:
            log_failed_load(new.path, exc)
            return False
        self.health, self.config, self.checks, self.maintenance = health, new, checks, maintenance
        self.alerts.configure(new)
        await self._apply(plan)
        return True

    async def stop(self) -> None:
        """cleanstop (SPEC Part B §4.7): the engine says what to purge."""
        self.state = DaemonState.STOPPING
        table = await self._read()
        if table is None:
            return
        await self._apply(engine.shutdown(self.config, table))

    # -- check results -----------------------------------------------------------------

    async def observe(self, batch: Iterable[tuple[RealId, Outcome]]) -> None:
        """Fold check outcomes into health, write their log and monitor lines, reconcile."""
        changed = False
        for rid, outcome in batch:
            check = self.checks.get(rid)
            if check is None:  # a result from before a reload that dropped this identity
                continue
            before = self.health.get(rid, engine.UNKNOWN)
            if outcome.maintenance:
                self.maintenance.add(rid)
            else:
                self.maintenance.discard(rid)
            health, events = engine.observe_check(check, before, outcome.result.ok,
                                                  maintenance=outcome.maintenance)
            log.debug("check %s (%s): %s, %s in %.3fs", check.id.server, check.virtual.vid,
                      "up" if outcome.result.ok and not outcome.maintenance else "down",
                      MAINTENANCE_MESSAGE if outcome.maintenance else outcome.result.detail,
                      outcome.result.elapsed)
            self.health[rid] = health
            for event in events:
                self._emit(event)
            self._monitor(check, outcome)
            changed = changed or health.status is not before.status or outcome.maintenance
        if changed or self.dirty:
            await self.reconcile(Tag.START)

    def _monitor(self, check: Check, outcome: Outcome) -> None:
        kind = check.virtual.checktype
        ok = outcome.result.ok and not outcome.maintenance
        # The original writes none for `on`, ping failures and external-perl.
        if kind in (CheckType.ON, CheckType.EXTERNAL_PERL) or (kind is CheckType.PING and not ok):
            return
        message = MAINTENANCE_MESSAGE if outcome.maintenance else outcome.result.detail
        seen: set[str] = set()
        for virtual, _real in check.members:
            path = virtual.monitorfile
            if path and path not in seen:
                seen.add(path)
                self.monitors.write(path, monitor_line(check.id.text, ok, message))


def describe(exc: BaseException) -> str:
    """`Type: message` of a bug of ours, on one line; a task group's first error inside."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def log_failed_load(path: str, exc: Exception) -> None:
    """A bug of ours while loading or working out a config: logged as a failed reload.

    The file and line are named when the exception carries them (`filename`/`lineno`, as
    SyntaxError does); the traceback goes to the debug log.
    """
    import os
    import traceback

    inner: BaseException = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    where, line = getattr(inner, "filename", None), getattr(inner, "lineno", None)
    what = f"internal error ({describe(inner)}); the running configuration is kept"
    if isinstance(where, str) and isinstance(line, int) and line > 0:
        log.info("Error [%d] reading file %s at line %d: %s", os.getpid(), where, line, what)
    else:
        log.info("Error [%d]: can not load file %s: %s", os.getpid(), path, what)
    log.debug("%s", "".join(traceback.format_exception(exc)).rstrip())


def _applied_ops(ops: Sequence[Op], failed: IPVSError | None) -> list[Op]:
    """The ops that took effect: all of them, or those before the refused one."""
    if failed is None:
        return list(ops)
    applied: list[Op] = []
    for op in ops:
        if op == failed.op:
            break
        applied.append(op)
    return applied
