"""Side effects of the controller's decisions: fallbackcommand, monitor file, alerts.

None of them blocks the check loops (SPEC Part A §11). `FallbackCommands` runs
`<cmd> start|stop VIP:port proto` in the background, one at a time per virtual, in order.
The command text comes from the config file; the arguments are passed to `/bin/sh -c` as
positional parameters (`sh -c '<cmd> "$@"' sh start 10.0.0.1:80 tcp`), never spliced into
the command text. `Alerts` is the seam for e-mail: the daemon hands it every mail-worthy
engine event with the daemon state; `LoggingAlerts` only logs at debug level.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Protocol

from ldirectord.config.model import Config, DaemonState
from ldirectord.engine import Event
from ldirectord.logsetup import ctime, log
from ldirectord.runtime.mail.alerts import MailAlerts


class Alerts(Protocol):
    """Receives the events the original e-mails (SPEC Part B §5.6) and daemon state changes.

    Error handling: implementations never raise into the controller and never block it
    (they queue and send in the background). Cancellation: `close` flushes or drops.
    """

    def configure(self, config: Config) -> None: ...

    def event(self, event: Event, state: DaemonState) -> None:
        """A mail-worthy event (its `mail_subject` is set), mailed per `event.virtual`."""

    def tick(self, now: float, state: DaemonState) -> None: ...

    async def close(self) -> None: ...


class LoggingAlerts:
    """The no-op alerts: mail-worthy events are noted at debug level and nothing is sent."""

    def configure(self, config: Config) -> None:
        pass

    def event(self, event: Event, state: DaemonState) -> None:
        if event.virtual is not None and event.virtual.emailalert:
            log.debug("emailalert (not sent: no mailer): %s [%s]", event, state.value)

    def tick(self, now: float, state: DaemonState) -> None:
        pass

    async def close(self) -> None:
        pass


def alerts_for(config: Config) -> Alerts:
    """The alerts the daemon uses: e-mail through `smtp` or the local mailer (runtime.mail)."""
    return MailAlerts(config)


async def run_shell_command(command: str, args: tuple[str, ...]) -> int:
    """`/bin/sh -c '<command> "$@"' sh *args`; logs the original's failure line; returns status."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", f'{command} "$@"', "sh", *args,
            stdin=asyncio.subprocess.DEVNULL,
        )
        status = await proc.wait()
    except OSError as exc:
        log.info("system(%s %s) failed: %s", command, " ".join(args), exc.strerror or exc)
        return 127
    if status != 0:
        log.info("system(%s %s) failed: exit status %d", command, " ".join(args), status)
    return status


JobFactory = Callable[[], Coroutine[Any, Any, None]]


class Serial:
    """Background jobs run one at a time per key, in submission order; `drain` waits for all."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._all: set[asyncio.Task[None]] = set()

    def submit(self, key: Hashable, job_factory: JobFactory) -> None:
        previous = self._tails.get(key)

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(previous)
            await job_factory()

        task = asyncio.get_running_loop().create_task(run())
        self._tails[key] = task
        self._all.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._all.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("background job failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self._all:
            await asyncio.gather(*list(self._all), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._all):
            task.cancel()


class FallbackCommands:
    """Runs fallbackcommand start/stop per virtual in the background, serialised per virtual."""

    def __init__(self) -> None:
        self._serial = Serial()

    def run(self, key: Hashable, command: str, args: tuple[str, ...]) -> None:
        """Queue `command args...` behind the earlier runs for the same virtual `key`."""

        async def job() -> None:
            await run_shell_command(command, args)

        self._serial.submit(key, job)

    async def drain(self) -> None:
        await self._serial.drain()


def escape_monitor(message: str) -> str:
    """%, |, CR and LF as %25, %7c, %0d, %0a; empty -> `-` (SPEC Part B §5.5)."""
    if not message:
        return "-"
    return (message.replace("%", "%25").replace("|", "%7c")
            .replace("\r", "%0d").replace("\n", "%0a"))


def squeeze_id(id_text: str) -> str:
    """The real id with runs of `:` squeezed to one space and backslashes removed."""
    out: list[str] = []
    prev_colon = False
    for ch in id_text.replace("\\", ""):
        if ch == ":":
            if not prev_colon:
                out.append(" ")
            prev_colon = True
        else:
            out.append(ch)
            prev_colon = False
    return "".join(out)


def monitor_line(id_text: str, ok: bool, message: str, when: float | None = None) -> str:
    """`[<ctime>] [<pid>] <id squeezed> [up|down] <escaped message>`."""
    state = "up" if ok else "down"
    return f"[{ctime(when)}] [{os.getpid()}] {squeeze_id(id_text)} [{state}] " \
           f"{escape_monitor(message)}\n"


class MonitorFiles:
    """Appends monitor lines off the event loop, one writer per file so lines keep order."""

    def __init__(self) -> None:
        self._serial = Serial()

    def write(self, path: str, line: str) -> None:
        async def job() -> None:
            try:
                await asyncio.to_thread(_append, path, line)
            except OSError as exc:
                # The original dies here; one unwritable file must not stop the checks.
                log.info("Error writing to monitorfile %s: %s", path, exc.strerror or exc)

        self._serial.submit(path, job)

    async def drain(self) -> None:
        await self._serial.drain()


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8", errors="replace") as fh:
        fh.write(line)

