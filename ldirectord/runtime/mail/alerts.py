"""The daemon's e-mail `Alerts`: decides what is mailed, queues it per virtual, keeps reminders."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ldirectord.config.keys import service_key
from ldirectord.config.model import Config, DaemonState, VirtualService
from ldirectord.engine import Event
from ldirectord.engine.events import DestEvent, Reminder
from ldirectord.ipvs.model import DestKey, ServiceKey
from ldirectord.logsetup import log
from ldirectord.runtime.mail.limiter import Admission, RateLimiter
from ldirectord.runtime.mail.message import Mail, Route, message, recipients
from ldirectord.runtime.mail.transport import (
    SEND_ERRORS,
    SENDMAIL,
    SMTP_PORT,
    Transport,
)

RATE_INTERVAL = 60.0
SEND_TIMEOUT = 30.0
CLOSE_TIMEOUT = 5.0  # within the `stop` action's wait for the daemon to exit
QUEUE_LIMIT = 100  # mails waiting per virtual
SMTP_FAILED = "failed to send SMTP email message"
LOCAL_FAILED = "failed to send email message"

RealKey = tuple[ServiceKey, DestKey]


@dataclass(frozen=True, slots=True)
class _Reminder:
    virtual: VirtualService
    subject: str  # without the servicename prefix: the virtual's may change on reload
    last: float


def _bug(exc: Exception) -> None:
    log.info("emailalert: internal error: %r", exc)
    log.debug("emailalert: internal error", exc_info=exc)


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


class MailAlerts:
    """The daemon's `Alerts`: mails events and reminders in the background (see the package
    doc).

    Error handling: `configure`, `event` and `tick` never raise and never block; send
    failures are logged. Cancellation: `close` waits for queued mails at most
    `close_timeout` seconds, then cancels the workers; events after `close` are dropped.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] | None = None,
        smtp_port: int = SMTP_PORT,
        sendmail: Sequence[str] = SENDMAIL,
        rate_interval: float = RATE_INTERVAL,
        send_timeout: float = SEND_TIMEOUT,
        close_timeout: float = CLOSE_TIMEOUT,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self._config = config
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._wall = wall or time.time
        self._send_timeout = send_timeout
        self._close_timeout = close_timeout
        self._queue_limit = max(1, queue_limit)
        self.hostname = socket.gethostname()
        self.sender = f"{_user()}@{self.hostname}"
        self._transport = Transport(hostname=self.hostname, sender=self.sender,
                                    timeout=send_timeout, smtp_port=smtp_port,
                                    sendmail=sendmail)
        self._limiter = RateLimiter(rate_interval)
        self._reminders: dict[RealKey, _Reminder] = {}
        self._queues: dict[str, deque[Mail]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    # -- the Alerts protocol ------------------------------------------------------------

    def configure(self, config: Config) -> None:
        """Take a (re)loaded config: reminders follow their virtual's new settings."""
        self._config = config
        try:
            self._follow(config)
        except Exception as exc:  # a bug of ours must not reach the controller
            _bug(exc)

    def _follow(self, config: Config) -> None:
        by_key = {service_key(v): v for v in config.virtuals}
        for key, rem in list(self._reminders.items()):
            virtual = by_key.get(key[0])
            if virtual is None or virtual.emailalertfreq <= 0:
                del self._reminders[key]
            else:
                self._reminders[key] = replace(rem, virtual=virtual)

    def event(self, event: Event, state: DaemonState) -> None:
        """Mail `event` (if its virtual wants it now), or hold it under the rate limit."""
        try:
            self._event(event, state)
        except Exception as exc:  # a bug of ours must not reach the controller
            _bug(exc)

    def tick(self, now: float, state: DaemonState) -> None:
        """Send due reminders and the summaries of rate-limit windows that ended."""
        if self._closed:  # the workers are gone: nothing would send them
            return
        try:
            self._send_reminders(now, state)
            for mail in self._limiter.ended(now):
                self._queue(mail)
        except Exception as exc:
            _bug(exc)

    async def close(self) -> None:
        """Mail what is held, send what is queued within `close_timeout`, stop the workers."""
        if self._closed:
            return
        for mail in self._limiter.drain():
            self._queue(mail)
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._close_timeout
        try:
            while self._workers and (left := deadline - loop.time()) > 0:
                await asyncio.wait(list(self._workers.values()), timeout=left)
        finally:
            unsent = sum(len(q) for q in self._queues.values()) + len(self._workers)
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._queues.clear()
            if unsent:
                log.info("emailalert: %d message(s) not sent at stop", unsent)

    # -- deciding ------------------------------------------------------------------------

    def _event(self, event: Event, state: DaemonState) -> None:
        subject = event.mail_subject
        if subject is None:
            return
        if self._closed:  # the workers are gone: nothing would send it
            log.debug("emailalert (not sent: stopped): %s", subject)
            return
        now = self._clock()
        key: RealKey | None = None
        if isinstance(event, DestEvent):
            key = event.reminder_key
            self._track_reminder(event, key, now)
        route = Route.of(event.virtual, self._config)
        if not route.wants(state):
            return
        mail = Mail(route, subject, state)
        if key is None:
            self._queue(mail)
            return
        match self._limiter.offer(key, mail, now, self._wall()):
            case Admission.SEND:
                self._queue(mail)
            case Admission.HELD_FIRST:  # once per window, so the log says why no mail came
                log.info("emailalert held back (at most one mail per real server every "
                         "%g s): %s", self._limiter.interval, mail.text)
            case Admission.HELD:
                log.debug("emailalert held back: %s", mail.text)

    def _track_reminder(self, event: DestEvent, key: RealKey, now: float) -> None:
        if event.reminder is Reminder.START and event.virtual.emailalertfreq > 0:
            self._reminders[key] = _Reminder(event.virtual, event.reminder_subject, now)
        elif event.reminder is not Reminder.NONE:
            self._reminders.pop(key, None)

    def _send_reminders(self, now: float, state: DaemonState) -> None:
        for key, rem in list(self._reminders.items()):
            if now - rem.last < rem.virtual.emailalertfreq:
                continue
            self._reminders[key] = replace(rem, last=now)
            # The held transitions say more than "inaccessible", and must not arrive
            # after a reminder about the state they led to.
            summary = self._limiter.release(key, now)
            if summary is not None:
                self._queue(summary)
                continue
            route = Route.of(rem.virtual, self._config)
            if route.wants(state):
                self._queue(Mail(route, rem.subject, state))

    # -- sending -------------------------------------------------------------------------

    def _queue(self, mail: Mail) -> None:
        # As the original: the log line has no servicename prefix, the subject has.
        log.info("emailalert: %s", mail.text)
        name = mail.route.queue
        queue = self._queues.setdefault(name, deque())
        if len(queue) >= self._queue_limit:
            dropped = queue.popleft()
            log.info("emailalert not sent (too many queued): %s", dropped.text)
        queue.append(mail)
        if name not in self._workers:
            self._workers[name] = asyncio.get_running_loop().create_task(
                self._work(name), name=f"emailalert {name}")

    async def _work(self, name: str) -> None:
        queue = self._queues[name]
        try:
            while queue:
                mail = queue.popleft()
                try:
                    await self._send(mail)
                except Exception as exc:  # a bug of ours: say so, keep serving the queue
                    _bug(exc)
        finally:
            # No await between the empty check and here: a mail queued now finds no
            # worker and starts a new one.
            if self._workers.get(name) is asyncio.current_task():
                del self._workers[name]
            if not queue and self._queues.get(name) is queue:
                del self._queues[name]

    async def _send(self, mail: Mail) -> None:
        from_ = self._config.emailalertfrom if self._config is not None else None
        smtp = mail.route.smtp
        try:
            msg = message(mail, hostname=self.hostname, sender=self.sender, from_=from_,
                          date=self._wall())
            async with asyncio.timeout(self._send_timeout):
                if smtp is not None:
                    await self._transport.smtp(smtp, msg, recipients(mail.route.to))
                else:
                    await self._transport.local(msg)
        except SEND_ERRORS as exc:
            log.info("%s", SMTP_FAILED if smtp is not None else LOCAL_FAILED)
            log.debug("emailalert: %s", str(exc) or f"no answer within {self._send_timeout:g} s")
