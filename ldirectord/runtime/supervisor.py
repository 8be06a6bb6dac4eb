"""The supervisor: the task tree of a running daemon, its signals, reloads and stop.

Theory of operation. One `asyncio.TaskGroup` holds the controller task, the config
watcher, the alert ticker and one check loop per check identity (the engine's `CheckId`:
the same real in several virtuals is checked once per interval and the result applied to
each). Loops put their outcomes on one queue; the controller is its only consumer and the
only writer to the kernel. Reload and stop requests travel on the same queue, so they are
ordered with results and never race a kernel write.

- Start (Part A §2): reconcile against the current table, report ready, start the loops
  (first checks spread over the interval), then the `execute=` sub-instances.
- Reload (SIGHUP, the `reload` action, autoreload): parse the file first; a broken file
  logs every error and changes nothing (Part A §4). Otherwise health carries over, the
  table is reconciled, the log destination follows the new file, the loops restart.
- Stop (TERM, INT, QUIT): loops stop, sub-instances are stopped, cleanstop runs, then
  `Linux Director Daemon terminated on signal: <SIG>`. Further signals while stopping are
  ignored (Part A §10: a second TERM does not abort the cleanup).

Error handling (Part A §14): a checker bug is a failed check (scheduler.py); an exception
of ours while loading a file on reload is a failed reload (configload.py); an operation
the kernel refuses fails alone (controller.py holds it) and is retried on the
REPAIR_BACKOFF steps; a bug in the controller itself ends the TaskGroup and the daemon
exits 1 leaving the table exactly as it is: no cleanstop, so traffic keeps flowing on the
last good state.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from checkers.base import Result
from ldirectord import engine
from ldirectord.config.model import CheckType, Config, DaemonState
from ldirectord.engine import CheckId, Probe, RealGroup
from ldirectord.invocation import Action, ExitCode
from ldirectord.ipvs.backend import Backend
from ldirectord.logsetup import configure, dest_for, log
from ldirectord.runtime.configload import describe, load_file, load_for_reload, log_failed_load
from ldirectord.runtime.configwatch import ConfigWatch
from ldirectord.runtime.controller import MAINTENANCE_MESSAGE, Controller
from ldirectord.runtime.effects import Alerts, LoggingAlerts
from ldirectord.runtime.execute import reload_children, run_child
from ldirectord.runtime.maintenance import Maintenance
from ldirectord.runtime.messages import Message, Observed, Reload, Repair, Stop
from ldirectord.runtime.realprobes import RealProbes, probes_for
from ldirectord.runtime.scheduler import MAX_IN_FLIGHT, Clock, LoopClock, Observation, check_loop
from ldirectord.runtime.scheduler import jitter as default_jitter

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
#: Seconds between repeated cancellations of a task that has not ended at stop.
CANCEL_RETRY = 0.5
REPAIR_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
ALERT_TICK = 1.0
#: Bounds at stop: a hung sub-instance or fallbackcommand must not keep the daemon alive.
CHILD_STOP_TIMEOUT = 30.0
DRAIN_TIMEOUT = 10.0


def _constant(value: float) -> Callable[[], float]:
    def get() -> float:
        return value
    return get


class Supervisor:
    """Runs one daemon instance until it is stopped. Everything with side effects is injected."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        *,
        on_ready: Callable[[], None] | None = None,
        clock: Clock | None = None,
        alerts: Alerts | None = None,
        loader: Callable[[str], Awaitable[Config]] = load_file,
        prepare_check: Callable[[RealGroup], RealProbes] | None = None,
        jitter: Callable[[float], float] | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        signals: bool = True,
        cfgname: str = "ldirectord",
        debug: bool = False,
    ) -> None:
        self.clock: Clock = clock or LoopClock()
        self.alerts: Alerts = alerts or LoggingAlerts()
        self.alerts.configure(config)
        self.controller = Controller(config, backend, self.alerts)
        self._on_ready = on_ready
        self._loader = loader
        self._prepare = prepare_check or probes_for
        self._jitter = jitter or (lambda interval: default_jitter(interval, random.Random()))
        self._slots = asyncio.Semaphore(max_in_flight)
        self._signals = signals
        self._cfgname = cfgname
        self._debug = debug
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._loops: dict[CheckId, asyncio.Task[None]] = {}
        self._generation = 0
        self._pending_first: set[CheckId] = set()
        self._repairs = 0
        self._repair_due = False  # a Repair is on its way (sleeping or queued)
        self._stopping = False
        self._tg: asyncio.TaskGroup | None = None
        self._watch: ConfigWatch | None = None
        self._maintenance: Maintenance | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.exit_code = ExitCode.OK

    @property
    def config(self) -> Config:
        return self.controller.config

    # -- requests from outside (signals, tests) ----------------------------------------

    def request_reload(self, reason: str = "signal") -> None:
        if not self._stopping:
            self._queue.put_nowait(Reload(reason))

    def request_stop(self, signame: str = "TERM") -> None:
        if not self._stopping:
            self._stopping = True
            self._queue.put_nowait(Stop(signame))

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request_reload, "signal")
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.request_stop, sig.name.removeprefix("SIG"))
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, *STOP_SIGNALS):
            loop.remove_signal_handler(sig)

    # -- the task tree -----------------------------------------------------------------

    async def run(self) -> ExitCode:
        """Start, serve until a stop request, clean up; returns the exit code."""
        if self._signals:
            self._install_signals()
        try:
            try:
                if not await self.controller.start():
                    return ExitCode.FAILURE
                self._set_maintenance()
                if self._on_ready is not None:
                    self._on_ready()
                async with asyncio.TaskGroup() as tg:
                    self._tg = tg
                    self._start_loops()
                    self._schedule_repair()  # something refused at start is retried too
                    self._spawn(self._alert_ticker(), "alerts")
                    self._watch = ConfigWatch(self.clock, self)
                    self._spawn(self._watch.run(), "config-watch")
                    for name in self.config.execute:
                        self._spawn(run_child(name, Action.START), f"execute {name}")
                    signame = await self._control()
                    await self._cancel_all()
            except Exception as exc:  # a bug of ours: say so, exit 1, touch nothing
                await self._abort(exc)
                return self.exit_code
            await self._shutdown(signame)
            return self.exit_code
        finally:
            if self._signals:
                self._remove_signals()
            await self.alerts.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """A background task of the group, cancelled at stop."""
        assert self._tg is not None
        task = self._tg.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _cancel_all(self) -> None:
        """Cancel every loop and background task and wait until they are all done.

        A task may swallow one cancellation (Python 3.11's `asyncio.wait_for` and some client
        libraries do, when the awaited operation completes at the moment of the cancel); a
        check loop that did so would run on and keep the task group, and so the stop,
        waiting forever. So what is still running is cancelled again until it ends.
        """
        tasks = [*self._loops.values(), *self._background]
        self._loops.clear()
        while pending := [t for t in tasks if not t.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=CANCEL_RETRY)

    async def _control(self) -> str:
        """The controller task's body: consume the queue until a stop request."""
        while True:
            message = await self._queue.get()
            batch: list[tuple[CheckId, Observation]] = []
            retry = False
            while True:
                match message:
                    case Observed(cid, generation, observation):
                        if generation == self._generation:
                            batch.append((cid, observation))
                            self._pending_first.discard(cid)
                    case Stop(signame):
                        await self._flush(batch, retry)
                        return signame
                    case Reload(reason):
                        await self._flush(batch, retry)
                        batch, retry = [], False
                        await self._reload(reason)
                    case Repair():
                        retry = True
                        self._repair_due = False
                if self._queue.empty():
                    break
                message = self._queue.get_nowait()
            await self._flush(batch, retry)
            if not self._pending_first and self.controller.state is DaemonState.STARTING:
                self.controller.state = DaemonState.RUNNING

    async def _flush(self, batch: list[tuple[CheckId, Observation]], retry: bool = False) -> None:
        if batch or retry or self.controller.dirty:
            await self.controller.observe(batch, retry=retry)
        self._schedule_repair()

    def _schedule_repair(self) -> None:
        """Ask for a repair reconcile after the next backoff step, if one is wanted.

        The step goes back to the first only once nothing is held or unread any more:
        check results in between (which leave held operations alone) never reset it.
        """
        if not self.controller.needs_repair:
            self._repairs = 0
            return
        if self._tg is None or self._repair_due:
            return
        delay = REPAIR_BACKOFF[min(self._repairs, len(REPAIR_BACKOFF) - 1)]
        self._repairs += 1
        self._repair_due = True

        async def later() -> None:
            await self.clock.sleep(delay)
            self._queue.put_nowait(Repair())

        self._spawn(later(), "repair")

    # -- check loops -------------------------------------------------------------------

    def _set_maintenance(self) -> None:
        directory = self.config.maintenancedir
        self._maintenance = Maintenance(directory) if directory else None

    def _prepare_all(self, config: Config) -> list[tuple[RealGroup, RealProbes]]:
        """The probes of every checked group (a reload builds them before it commits)."""
        return [(group, self._prepare(group)) for group in engine.real_groups(config)
                if group.virtual.checktype is not CheckType.OFF]

    def _start_loops(self, prepared: list[tuple[RealGroup, RealProbes]] | None = None
                     ) -> None:
        assert self._tg is not None
        self._generation += 1
        self._pending_first = set()
        probes = self._prepare_all(self.config) if prepared is None else prepared
        for group, probe in probes:
            self._pending_first.add(group.id)
            interval = group.virtual.checkinterval
            self._loops[group.id] = self._tg.create_task(check_loop(
                group.id.server, _constant(interval), self._check_call(group, probe),
                self._deliver(group.id, self._generation), self.clock, self._slots,
                self._jitter(interval)), name=f"check {group.id.server}")

    def _deliver(self, cid: CheckId, generation: int) -> Callable[[Observation], None]:
        def deliver(observation: Observation) -> None:
            self._queue.put_nowait(Observed(cid, generation, observation))
        return deliver

    def _check_call(self, group: RealGroup, prepared: RealProbes
                    ) -> Callable[[], Awaitable[Observation]]:

        async def call() -> Observation:
            maint = self._maintenance
            if maint is not None:
                hit = await maint.match(group.real.host, group.real.port)
                if hit is not None:
                    return Observation(Result(False, MAINTENANCE_MESSAGE, 0.0), True)
            health = self.controller.health.get(group.id, engine.UNKNOWN)
            if engine.next_probe(health, group.policy) is Probe.CONNECT:
                return Observation(await prepared.connect())
            return Observation(await prepared.negotiate())

        return call

    # -- reload and stop ---------------------------------------------------------------

    async def _reload(self, reason: str) -> None:
        if reason != "autoreload":
            log.info("Reloading Linux Director Daemon config on signal")
        if self._watch is not None:
            self._watch.forget()
        new = await load_for_reload(self._loader, self.config.path)
        if new is None:
            return
        try:
            prepared = self._prepare_all(new)
        except Exception as exc:  # a bug of ours: a failed reload, the old config runs on
            log_failed_load(new.path, exc)
            return
        old = self.config
        previous = self.controller.state
        self.controller.state = DaemonState.RELOADING
        moved = new.logfile != old.logfile or new.supervised != old.supervised
        if moved:
            configure(dest_for(new.logfile, self._cfgname, debug=self._debug,
                               supervised=new.supervised))
        ok = await self.controller.reload(new)
        self.controller.state = previous if previous is not DaemonState.STARTING \
            else DaemonState.RUNNING
        if not ok:  # nothing changed: the log goes back where the running config says
            if moved:
                configure(dest_for(old.logfile, self._cfgname, debug=self._debug,
                                   supervised=old.supervised))
            return
        self._set_maintenance()
        for task in self._loops.values():
            task.cancel()
        self._loops.clear()
        self._start_loops(prepared)
        if old.execute or new.execute:
            self._spawn(reload_children(old.execute, new.execute), "execute")

    async def _abort(self, exc: Exception) -> None:
        """Exit on a bug of ours (Part A §14): the table stays exactly as it is.

        No cleanstop and no other write: the kernel keeps serving the last good state, and
        the next start reconciles from it. The `execute=` sub-instances are separate
        daemons with their own tables and are left running for the same reason.
        """
        self._stopping = True
        self.controller.state = DaemonState.STOPPING
        self.exit_code = ExitCode.FAILURE
        log.info("Internal error, stopping: %s; leaving the IPVS table as it is",
                 describe(exc))
        log.debug("%s", "".join(traceback.format_exception(exc)).rstrip())
        await self._drain()

    async def _drain(self) -> None:
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await self.controller.fallbacks.drain()
                await self.controller.monitors.drain()
        except TimeoutError:
            log.info("Background commands still running after %gs: not waiting for them",
                     DRAIN_TIMEOUT)

    async def _shutdown(self, signame: str) -> None:
        self._stopping = True
        self.controller.state = DaemonState.STOPPING
        for name in self.config.execute:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHILD_STOP_TIMEOUT):
                    await run_child(name, Action.STOP)
        # Shielded: a cancellation now must not leave a half-cleaned table.
        await asyncio.shield(self.controller.stop())
        await self._drain()
        log.info("Linux Director Daemon terminated on signal: %s", signame)
        if self._debug:  # the original logs every exit in debug mode, status 0 included
            log.info("Exiting with exit_status 0: Linux Director Daemon terminated on "
                     "signal: %s", signame)

    async def _alert_ticker(self) -> None:
        while True:
            await self.clock.sleep(ALERT_TICK)
            self.alerts.tick(self.clock.now(), self.controller.state)
