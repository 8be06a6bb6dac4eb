"""E-mail alerts: the original's messages, sent in the background, rate limited per real server.

What is mailed is the original's (SPEC Part B §5.6): every real/fallback change the engine
marks with a `mail_subject`, to the virtual's `emailalert` list, when the daemon state is
in its `emailalertstatus`. The subject is the log line, prefixed `[<servicename>] ` when the
virtual has one; the body is

    ldirectord host: <hostname>
    Log-Message: <subject>
    Daemon-Status: <starting|running|stopping|reloading>

followed, when the virtual has a servicename or a comment, by a blank line, `Service name:
...` / `Comment: ...` and another blank line. `From:` is `emailalertfrom`, else
`<user>@<hostname>` (also the envelope sender); `To:` is the `emailalert` text as written.
Each attempt logs `emailalert: <log line>` (no prefix, as the original); a failure logs
`failed to send SMTP email message` (relay) or `failed to send email message` (local
mailer), with the reason at debug level.

Transport: with `smtp=<host>` the relay on port 25, or on the port of `smtp=<host>:<port>`
or `smtp=[<IPv6>]:<port>` (plain SMTP, no STARTTLS or AUTH, as the original), one RCPT
per address of a comma-separated list (the original sends the whole list as one
malformed RCPT). Without it, `/usr/sbin/sendmail -t -oi`, exec'd without a shell
with the message on stdin. Both are bounded by `send_timeout`; a mailer that overruns is
killed.

Differences from the original (SPEC Part A §11):
- Nothing blocks the checks. `event` and `tick` only queue; one worker task per virtual
  sends that virtual's mails one at a time, in order (at most `QUEUE_LIMIT` waiting: the
  oldest is dropped, and logged, when a dead relay lets the queue grow). `close` sends what
  is queued for at most `close_timeout` seconds and logs how many mails it gave up on.
- Rate limit: at most one mail per (virtual, real server) every `rate_interval` seconds
  (60 by default). A transition inside that window is logged as usual but held, not
  mailed (the first one held in a window logs `emailalert held back (...)`). When the
  window ends (at the next `tick`) one mail goes out whose subject and Log-Message are the
  latest held transition (the real's current state) and whose body ends with the list of
  the held transitions and their times (when there was more than one), e.g.

      Not mailed at the time (at most one mail per real server every 60 s):
      Thu Nov 26 08:10:32 2026 Deleted real server: 10.0.0.2:80 (10.0.0.1:80)
      Thu Nov 26 08:10:42 2026 Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)

  So a flapping server costs one mail per window, and its last mail tells its current
  state. Held transitions still pending at `close` are mailed then.
- Reminders (`emailalertfreq` > 0) are the original's: taking a real out (quiesce, readd
  quiescent, delete) records it, and every `freq` seconds while it stays out a mail
  `Inaccessible real server: <RIP>:<port> (<VIP>)` is sent (with the servicename prefix).
  Added, Restored and Purged events clear it; fallback deletions never start one. They are
  not rate limited (their period is the operator's choice), but one that falls due while
  transitions of its real are held sends their summary instead, so "inaccessible" never
  arrives before the transition that made it so. A reload keeps reminders, with the new
  file's settings for their virtual; a virtual gone from the file drops them.

Clocks: `clock()` (the loop's by default) times events; `tick(now, ...)` takes the same
clock's time, as the supervisor gives it. The summary prints wall-clock times.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import email.utils
import os
import pwd
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage

import aiosmtplib

from ldirectord.config.model import Config, DaemonState, VirtualService
from ldirectord.config.smtp import smtp_address
from ldirectord.engine import DestEvent, Reminder, service_key
from ldirectord.ipvs.model import DestKey, ServiceKey
from ldirectord.logsetup import ctime, log

SENDMAIL: tuple[str, ...] = ("/usr/sbin/sendmail", "-t", "-oi")
SMTP_PORT = 25
RATE_INTERVAL = 60.0
SEND_TIMEOUT = 30.0
CLOSE_TIMEOUT = 5.0  # within the `stop` action's wait for the daemon to exit
QUEUE_LIMIT = 100  # mails waiting per virtual
HELD_LIMIT = 20  # transitions listed in one rate-limit summary
# Headers stay on one line (up to RFC 5322's hard limit) as the original sends them; the
# default folding at 78 columns splits subjects oddly (`Subject:` alone on its line).
_MAX_LINE = 998
_WIRE = email.policy.SMTP.clone(max_line_length=_MAX_LINE)
_LOCAL = email.policy.default.clone(max_line_length=_MAX_LINE)
SMTP_FAILED = "failed to send SMTP email message"
LOCAL_FAILED = "failed to send email message"

RealKey = tuple[ServiceKey, DestKey]


class MailError(Exception):
    """The local mailer did not take a mail."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a virtual's (or the global) alerts go, and the text it adds to them."""

    to: str
    smtp: str | None
    statuses: frozenset[DaemonState]
    servicename: str | None
    comment: str | None
    queue: str  # the serialisation key: the virtual's id, "" for global alerts

    @classmethod
    def of(cls, virtual: VirtualService | None, config: Config | None) -> Route:
        if virtual is not None:
            return cls(virtual.emailalert, virtual.smtp, virtual.emailalertstatus,
                       virtual.servicename, virtual.comment, virtual.vid)
        if config is not None:
            return cls(config.emailalert, config.smtp, config.emailalertstatus, None, None, "")
        return cls("", None, frozenset(), None, None, "")

    def wants(self, state: DaemonState) -> bool:  # the original's two silent skips
        return bool(self.to.strip()) and state in self.statuses

    def subject(self, message: str) -> str:
        return f"[{self.servicename}] {message}" if self.servicename else message


@dataclass(frozen=True, slots=True)
class Mail:
    """One message: the route, the log text it is about and the daemon state."""

    route: Route
    text: str  # the log message; the subject adds the servicename prefix
    state: DaemonState
    held: tuple[tuple[float, str], ...] = ()  # (wall time, text) not mailed at the time
    held_dropped: int = 0
    rate_interval: float = 0.0

    @property
    def subject(self) -> str:
        return self.route.subject(self.text)


def body(mail: Mail, hostname: str) -> str:
    """The original's body, plus the rate-limit summary when the mail carries one."""
    lines = [f"ldirectord host: {hostname}", f"Log-Message: {mail.subject}",
             f"Daemon-Status: {mail.state.value}"]
    extra = []
    if mail.route.servicename:
        extra.append(f"Service name: {mail.route.servicename}")
    if mail.route.comment:
        extra.append(f"Comment: {mail.route.comment}")
    if extra:  # the original appends "\n<details>\n": a blank line before and after
        lines += ["", *extra, ""]
    if len(mail.held) > 1:  # one held transition is the subject itself: nothing to add
        if lines[-1]:
            lines.append("")
        lines.append("Not mailed at the time (at most one mail per real server every "
                     f"{mail.rate_interval:g} s):")
        listed = [f"{ctime(when)} {text}" for when, text in mail.held]
        if mail.held_dropped:
            listed.insert(-1, f"... {mail.held_dropped} more ...")
        lines += listed
    return "\n".join(lines) + "\n"


def recipients(to: str) -> list[str]:
    """The addresses of an `emailalert` list: one RCPT each."""
    found = [addr for _, addr in email.utils.getaddresses([to]) if addr]
    # getaddresses gives up on some odd lists; commas are what the file uses.
    return found or [part.strip() for part in to.split(",") if part.strip()]


def message(mail: Mail, *, hostname: str, sender: str, from_: str | None) -> EmailMessage:
    """The whole message; a line break in a config value cannot inject a header."""
    msg = EmailMessage(policy=_LOCAL)
    msg["From"] = " ".join((from_ or sender).splitlines())
    msg["To"] = " ".join(mail.route.to.splitlines())
    msg["Subject"] = " ".join(mail.subject.splitlines())
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid("ldirectord", domain=hostname or "localhost")
    text = body(mail, hostname)  # plain 7bit like the original's, unless it needs encoding
    plain = text.isascii() and max(map(len, text.splitlines())) <= _MAX_LINE
    msg.set_content(text, cte="7bit" if plain else "quoted-printable")
    return msg


@dataclass(frozen=True, slots=True)
class _Reminder:
    virtual: VirtualService
    subject: str  # without the servicename prefix: the virtual's may change on reload
    last: float


@dataclass(frozen=True, slots=True)
class _Window:
    """The rate-limit state of one real in one virtual."""

    last: float  # when the last mail about it was queued
    held: tuple[tuple[float, str, Mail], ...] = ()  # (wall time, log text, mail)
    dropped: int = 0


def _bug(exc: Exception) -> None:
    log.info("emailalert: internal error: %r", exc)
    log.debug("emailalert: internal error", exc_info=exc)


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


class MailAlerts:
    """The daemon's `Alerts`: mails events and reminders in the background (see module doc).

    Error handling: `configure`, `event` and `tick` never raise and never block; send
    failures are logged. Cancellation: `close` waits for queued mails at most
    `close_timeout` seconds, then cancels the workers; events after `close` are dropped.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Callable[[], float] | None = None,
        smtp_port: int = SMTP_PORT,
        sendmail: Sequence[str] = SENDMAIL,
        rate_interval: float = RATE_INTERVAL,
        send_timeout: float = SEND_TIMEOUT,
        close_timeout: float = CLOSE_TIMEOUT,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self._config = config
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._smtp_port = smtp_port
        self._sendmail = tuple(sendmail)
        self._rate_interval = rate_interval
        self._send_timeout = send_timeout
        self._close_timeout = close_timeout
        self._queue_limit = max(1, queue_limit)
        self.hostname = socket.gethostname()
        self.sender = f"{_user()}@{self.hostname}"
        self._reminders: dict[RealKey, _Reminder] = {}
        self._windows: dict[RealKey, _Window] = {}
        self._queues: dict[str, deque[Mail]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    # -- the Alerts protocol ------------------------------------------------------------

    def configure(self, config: Config) -> None:
        """Take a (re)loaded config: reminders follow their virtual's new settings."""
        self._config = config
        by_key = {service_key(v): v for v in config.virtuals}
        for key, rem in list(self._reminders.items()):
            virtual = by_key.get(key[0])
            if virtual is None or virtual.emailalertfreq <= 0:
                del self._reminders[key]
            else:
                self._reminders[key] = replace(rem, virtual=virtual)

    def event(self, event: object, virtual: VirtualService | None, state: DaemonState) -> None:
        """Mail `event` (if its virtual wants it now), or hold it under the rate limit."""
        try:
            self._event(event, virtual, state)
        except Exception as exc:  # a bug of ours must not reach the controller
            _bug(exc)

    def tick(self, now: float, state: DaemonState) -> None:
        """Send due reminders and the summaries of rate-limit windows that ended."""
        try:
            self._send_reminders(now, state)
            self._end_windows(now)
        except Exception as exc:
            _bug(exc)

    async def close(self) -> None:
        """Mail what is held, send what is queued within `close_timeout`, stop the workers."""
        if self._closed:
            return
        for key, window in list(self._windows.items()):
            if window.held:
                self._queue(self._summary(window))
            del self._windows[key]
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

    def _event(self, event: object, virtual: VirtualService | None, state: DaemonState) -> None:
        subject = getattr(event, "mail_subject", None)
        if not isinstance(subject, str):
            return
        if self._closed:  # the workers are gone: nothing would send it
            log.debug("emailalert (not sent: stopped): %s", subject)
            return
        now = self._clock()
        key: RealKey | None = None
        if isinstance(event, DestEvent):
            key = event.reminder_key
            self._track_reminder(event, key, now)
        route = Route.of(virtual, self._config)
        if not route.wants(state):
            return
        mail = Mail(route, subject, state)
        window = self._windows.get(key) if key is not None else None
        if key is not None and window is not None and now - window.last < self._rate_interval:
            self._hold(window, key, mail)
        else:
            if key is not None and self._rate_interval > 0:
                self._windows[key] = _Window(now)
            self._queue(mail)

    def _hold(self, window: _Window, key: RealKey, mail: Mail) -> None:
        entry = (time.time(), mail.text, mail)
        if len(window.held) < HELD_LIMIT:
            held, dropped = (*window.held, entry), window.dropped
        else:  # keep the first ones and the latest: the latest is the summary's subject
            held, dropped = (*window.held[:-1], entry), window.dropped + 1
        self._windows[key] = replace(window, held=held, dropped=dropped)
        if not window.held:  # once per window, so the log says why no mail came
            log.info("emailalert held back (at most one mail per real server every %g s): %s",
                     self._rate_interval, mail.text)
        else:
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
            window = self._windows.get(key)
            if window is not None and window.held:
                # The held transitions say more than "inaccessible", and must not arrive
                # after a reminder about the state they led to.
                self._windows[key] = _Window(now)
                self._queue(self._summary(window))
                continue
            route = Route.of(rem.virtual, self._config)
            if route.wants(state) and not self._closed:
                self._queue(Mail(route, rem.subject, state))

    def _end_windows(self, now: float) -> None:
        for key, window in list(self._windows.items()):
            if now - window.last < self._rate_interval:
                continue
            if window.held and not self._closed:
                self._windows[key] = _Window(now)
                self._queue(self._summary(window))
            else:
                del self._windows[key]

    def _summary(self, window: _Window) -> Mail:
        latest = window.held[-1][2]
        return replace(latest, held=tuple((when, text) for when, text, _ in window.held),
                       held_dropped=window.dropped, rate_interval=self._rate_interval)

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
        failed = SMTP_FAILED if mail.route.smtp is not None else LOCAL_FAILED
        try:
            msg = message(mail, hostname=self.hostname, sender=self.sender, from_=from_)
            async with asyncio.timeout(self._send_timeout):
                if mail.route.smtp is not None:
                    await self._send_smtp(mail.route.smtp, msg, recipients(mail.route.to))
                else:
                    await self._send_local(msg)
        except (TimeoutError, MailError, OSError, aiosmtplib.SMTPException, ValueError) as exc:
            log.info("%s", failed)
            log.debug("emailalert: %s", str(exc) or f"no answer within {self._send_timeout:g} s")

    async def _send_smtp(self, smtp: str, msg: EmailMessage, rcpts: list[str]) -> None:
        host, port = smtp_address(smtp)
        # local_hostname: aiosmtplib would otherwise ask socket.getfqdn(), a blocking lookup.
        errors, _ = await aiosmtplib.send(
            msg.as_bytes(policy=_WIRE), sender=self.sender, recipients=rcpts, hostname=host,
            port=self._smtp_port if port is None else port, local_hostname=self.hostname,
            timeout=self._send_timeout, use_tls=False, start_tls=False)
        for addr, reply in errors.items():  # the others got it: not a failure of the mail
            log.info("emailalert: recipient %s refused: %s %s", addr, reply.code, reply.message)

    async def _send_local(self, msg: EmailMessage) -> None:
        data = msg.as_bytes(policy=_LOCAL)
        proc = await asyncio.create_subprocess_exec(
            *self._sendmail, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)
        try:
            _, err = await proc.communicate(data)
        finally:
            if proc.returncode is None:  # timed out or cancelled: do not leave it behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            detail = err.decode("utf-8", "replace").strip()[:200]
            raise MailError(f"{self._sendmail[0]} exited with status {proc.returncode}"
                            + (f": {detail}" if detail else ""))
