"""The controller: the only writer to the IPVS table, and the keeper of health.

Rules of this file:
- Every change goes the same way: read the table, `engine.reconcile`, apply the ops,
  then log the events of the ops that were applied (exact text from the engine), mail
  what the original mails, and run the fallbackcommand in the background.
- A batch of check results is observed first (soft-failure lines, monitor lines) and
  reconciled once, so a burst of results costs one read and one apply.
- One refused operation fails alone (Part A §14). The backend stops at a refused op (its
  contract); the controller logs it and goes on with the ops after it, leaving out only
  those that depend on it (the rest of a service whose AddService was refused). Only
  the events of applied ops are logged.
- A refused op is `held`: later reconciles (every check result) leave it and its
  dependents out without asking the kernel again, until the supervisor's repair
  reconcile (`retry=True`, on its backoff) tries it once more. So a refusal costs one log
  line per backoff step. A held op the plan no longer contains is forgotten; a changed
  op (a reload that fixed the value) is a new op and is tried at once.
- `dirty` says the table could not be read: the next occasion reconciles.
  Nothing here raises for what the kernel says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ldirectord import engine
from ldirectord.config.keys import service_key
from ldirectord.config.model import CheckType, Config, DaemonState
from ldirectord.engine import (
    CheckId,
    Event,
    FallbackAction,
    FallbackCommand,
    Health,
    Plan,
    RealGroup,
    Tag,
)
from ldirectord.errors import IPVSError, IPVSUnavailable, PermissionDenied
from ldirectord.ipvs.backend import Backend
from ldirectord.ipvs.ipvsadm import ipvsadm_command
from ldirectord.ipvs.model import AddService, Op, ServiceKey, Table
from ldirectord.logsetup import log
from ldirectord.runtime.configload import log_failed_load
from ldirectord.runtime.effects import Alerts, FallbackCommands, MonitorFiles, monitor_line
from ldirectord.runtime.owned import Ownership
from ldirectord.runtime.scheduler import Observation

MAINTENANCE_MESSAGE = "Server in maintenance"


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
        self.health: dict[CheckId, Health] = {}
        self.maintenance: set[CheckId] = set()
        self.commands: dict[ServiceKey, FallbackAction] = {}
        self.state = DaemonState.STARTING
        self.dirty = False
        self.held: set[Op] = set()
        self.groups: dict[CheckId, RealGroup] = {g.id: g for g in engine.real_groups(config)}
        #: The services this instance manages, across restarts (owned.py); in memory
        #: unless the daemon gives it its file.
        self.ownership = Ownership(None)

    # -- the table ---------------------------------------------------------------------

    async def _read(self) -> Table | None:
        try:
            return await self.backend.read()
        except IPVSError as exc:
            log.info("Could not read the IPVS table: %s", exc)
            self.dirty = True
            return None

    @property
    def needs_repair(self) -> bool:
        """Whether a repair reconcile is wanted: an unread table or held operations."""
        return self.dirty or bool(self.held)

    async def _apply(self, plan: Plan, *, retry: bool = True) -> None:
        """Apply `plan`; log, mail and run what the applied part stands for.

        With `retry` false, the ops held from an earlier refusal are left out unasked.
        """
        todo: list[Op] = []
        held: set[Op] = set()
        blocked: set[ServiceKey] = set()
        for op in plan.ops:
            if op.service in blocked:
                continue
            if not retry and op in self.held:
                held.add(op)
                if isinstance(op, AddService):
                    blocked.add(op.service)
                continue
            todo.append(op)
        applied: set[Op] = set()
        refused: list[IPVSError] = []
        while todo:
            try:
                await self.backend.apply(todo)
            except IPVSError as exc:
                refused.append(exc)
                index = _position(todo, exc)
                if index is not None:
                    applied.update(todo[:index])  # the contract: those before it took
                if index is None or isinstance(exc, PermissionDenied | IPVSUnavailable):
                    # Nobody's op (no privilege, no IPVS): the rest would only be refused
                    # too. Or an error naming no op: what took is unknown. Read again.
                    self.dirty = True
                    break
                bad = todo[index]
                held.add(bad)
                todo = todo[index + 1:]
                if isinstance(bad, AddService):
                    todo = [op for op in todo if op.service != bad.service]
                continue
            applied.update(todo)
            break
        for event in plan.events:
            if event.op is not None and event.op not in applied:
                continue
            self._emit(event)
        for failed in refused:
            what = ipvsadm_command(failed.op) if failed.op is not None else "IPVS update"
            log.info("system(%s) failed: %s", what, failed)
        self.held = held
        if not held and not refused:
            self.commands = dict(plan.commands)

    def _emit(self, event: Event) -> None:
        if isinstance(event, FallbackCommand):
            self.commands[service_key(event.virtual)] = event.action
            self.fallbacks.run(event.virtual.vid, event.command, event.arguments)
            return
        if event.message is not None:
            log.info("%s", event.message)
        if event.mail_subject is not None:
            self.alerts.event(event, self.state)

    async def reconcile(self, tag: Tag = Tag.START, *, retry: bool = False) -> bool:
        """Make the table match config + health now; False if the table could not be read.

        The services this instance owns are managed, so a dropped virtual whose removal the
        kernel refused is removed once it lets go. `retry`: try the held (refused)
        operations again too (the repair reconcile).
        """
        table = await self._read()
        if table is None:
            return False
        self.dirty = False
        plan = engine.reconcile(self.config, self.health, self.maintenance, table,
                                managed=self.ownership.keys, commands=self.commands,
                                tag=tag)
        await self._apply(plan, retry=retry)
        return True

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> bool:
        """Start-up: seed health from the table (Part A §2) and reconcile; services the
        previous run of this instance owned and the config no longer names are removed."""
        table = await self._read()
        if table is None:
            return False
        owned = await self.ownership.load()
        self.health = engine.initial_health(self.config, table)
        plan = engine.reconcile(self.config, self.health, self.maintenance, table,
                                managed=owned, commands=self.commands, tag=Tag.START)
        await self._apply(plan)
        await self._record_owned()
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
            groups = {g.id: g for g in engine.real_groups(new)}
            maintenance = self.maintenance & set(groups)
            plan = engine.reconcile(new, health, maintenance, table,
                                    managed=engine.managed_keys(old) | self.ownership.keys,
                                    commands=self.commands, tag=Tag.START)
        except Exception as exc:
            log_failed_load(new.path, exc)
            return False
        self.health, self.config, self.groups, self.maintenance = health, new, groups, maintenance
        self.alerts.configure(new)
        await self._apply(plan, retry=False)
        await self._record_owned()
        return True

    async def _record_owned(self) -> None:
        """Own the config's services, and keep owning those the kernel has not let go of: a
        refused removal (held) is still ours to retry, and after an unread table so is all
        that was owned."""
        previous = self.ownership.keys
        kept = previous if self.dirty else previous & {op.service for op in self.held}
        await self.ownership.record(engine.managed_keys(self.config) | kept)

    async def stop(self) -> None:
        """cleanstop (SPEC Part B §4.7): the engine says what to purge."""
        self.state = DaemonState.STOPPING
        table = await self._read()
        if table is None:
            return
        await self._apply(engine.shutdown(self.config, table))

    # -- check results -----------------------------------------------------------------

    async def observe(self, batch: Iterable[tuple[CheckId, Observation]], *,
                      retry: bool = False) -> None:
        """Fold check observations into health, write their log and monitor lines, reconcile.

        `retry`: this is the repair reconcile, which tries the held operations again.
        """
        changed = False
        for cid, seen in batch:
            group = self.groups.get(cid)
            if group is None:  # a result from before a reload that dropped this identity
                continue
            before = self.health.get(cid, engine.UNKNOWN)
            if seen.maintenance:
                self.maintenance.add(cid)
            else:
                self.maintenance.discard(cid)
            health, events = engine.observe_check(group, before, seen.result.ok,
                                                  maintenance=seen.maintenance)
            log.debug("check %s (%s): %s, %s in %.3fs", group.id.server, group.virtual.vid,
                      "up" if seen.result.ok and not seen.maintenance else "down",
                      MAINTENANCE_MESSAGE if seen.maintenance else seen.result.detail,
                      seen.result.elapsed)
            self.health[cid] = health
            for event in events:
                self._emit(event)
            self._monitor(group, seen)
            changed = changed or health.status is not before.status or seen.maintenance
        if changed or self.dirty or retry:
            await self.reconcile(Tag.START, retry=retry)

    def _monitor(self, group: RealGroup, seen: Observation) -> None:
        kind = group.virtual.checktype
        ok = seen.result.ok and not seen.maintenance
        # The original writes none for `on`, ping failures and external-perl.
        if kind in (CheckType.ON, CheckType.EXTERNAL_PERL) or (kind is CheckType.PING and not ok):
            return
        message = MAINTENANCE_MESSAGE if seen.maintenance else seen.result.detail
        written: set[str] = set()
        for virtual, _real in group.members:
            path = virtual.monitorfile
            if path and path not in written:
                written.add(path)
                self.monitors.write(path, monitor_line(group.id.text, ok, message))


def _position(ops: Sequence[Op], exc: IPVSError) -> int | None:
    """Where in `ops` the refused one is; None when the error names none of them."""
    if exc.op is None:
        return None
    for index, op in enumerate(ops):
        if op is exc.op:
            return index
    for index, op in enumerate(ops):
        if op == exc.op:
            return index
    return None
