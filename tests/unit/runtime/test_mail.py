"""E-mail alerts against a real SMTP server (aiosmtpd on loopback) and a recording mailer."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from ldirectord.config.model import (
    ALL_DAEMON_STATES,
    Config,
    DaemonState,
    Forwarding,
    IpvsProtocol,
    RealServer,
    Service,
    VirtualService,
)
from ldirectord.engine.events import DestChange, DestEvent, Reminder, Role
from ldirectord.ipvs.model import DestKey, Op, ServiceKey
from ldirectord.runtime.effects import alerts_for
from ldirectord.runtime.mail.alerts import MailAlerts
from ldirectord.runtime.mail.message import Mail as MailItem
from ldirectord.runtime.mail.message import Route as MailRoute
from ldirectord.runtime.mail.message import body, recipients
from tests.unit.runtime.wallclock import CASES, IDS, WallCase, fixed_wall

RUNNING = DaemonState.RUNNING
HOST = socket.gethostname()
WAIT = 10.0  # a bound on waiting for a condition, never a timing assertion


# -- the relay ---------------------------------------------------------------------------

@dataclass
class Relay:
    """A real SMTP server that records every envelope it accepts."""

    port: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        async with self.changed:
            self.envelopes.append(envelope)
            self.changed.notify_all()
        return "250 OK"

    async def wait_for(self, count: int) -> list[EmailMessage]:
        async with asyncio.timeout(WAIT), self.changed:
            await self.changed.wait_for(lambda: len(self.envelopes) >= count)
        return [parsed(e) for e in self.envelopes]


def parsed(envelope: Envelope) -> EmailMessage:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    # On the wire lines end in CRLF; the local mailer gets (and we compare) LF.
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text(msg: EmailMessage) -> str:
    content = msg.get_content()
    assert isinstance(content, str)
    return content


async def _serve(relay: Relay, host: str, port: int = 0) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTPServer(relay, hostname="relay.test"),
                                    host, port)


@pytest_asyncio.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay()
    server = await _serve(r, "127.0.0.1")
    r.port = server.sockets[0].getsockname()[1]
    yield r
    server.close()
    await server.wait_closed()


@pytest_asyncio.fixture
async def blackhole(relay: Relay) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """127.0.0.2 on the relay's port: accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.2", relay.port)
    yield held
    server.close()
    for writer in held:
        writer.close()
    await server.wait_closed()


# -- helpers -----------------------------------------------------------------------------

KEY = ServiceKey(IpvsProtocol.TCP, "10.0.0.1", 80)


def virtual(**kw: object) -> VirtualService:
    base = VirtualService(
        protocol=IpvsProtocol.TCP, address="10.0.0.1", port=80, fwmark=None, ipv6=False,
        reals=(RealServer("10.0.0.2", 80, Forwarding.MASQ),
               RealServer("10.0.0.3", 80, Forwarding.MASQ)),
        service=Service.HTTP, emailalert="ops@example.com", smtp="127.0.0.1")
    return replace(base, **kw)  # type: ignore[arg-type]


def config(*virtuals: VirtualService, **kw: object) -> Config:
    return replace(Config(path="/dev/null", virtuals=virtuals), **kw)  # type: ignore[arg-type]


def dest(v: VirtualService, change: DestChange, host: str = "10.0.0.2",
         role: Role = Role.REAL) -> DestEvent:
    key = ServiceKey(v.protocol, v.address, v.port)
    return DestEvent(change, role, v, key, DestKey(host, 80), f"{host}:80",
                     0 if change is DestChange.QUIESCED else 1, None)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "ldirectord" and r.levelno >= logging.INFO]


class LogWatch(logging.Handler):
    """Wakes waiters on every ldirectord log record (records are emitted on the loop)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.changed.set()


async def wait_line(caplog: pytest.LogCaptureFixture, line: str, count: int = 1) -> None:
    watch = LogWatch()
    logger = logging.getLogger("ldirectord")
    logger.addHandler(watch)
    try:
        async with asyncio.timeout(WAIT):
            while lines(caplog).count(line) < count:
                watch.changed.clear()
                await watch.changed.wait()
    finally:
        logger.removeHandler(watch)


def mail_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("emailalert")]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ldirectord")


def alerts(relay: Relay, cfg: Config, **kw: object) -> MailAlerts:
    a = MailAlerts(cfg, smtp_port=relay.port, **kw)  # type: ignore[arg-type]
    return a


DEL_2 = "Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"
ADD_2 = "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)"


# -- what is sent --------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_original_subject_body_from_and_to(relay: Relay,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    v = virtual()
    a = alerts(relay, config(v))
    a.event(dest(v, DestChange.DELETED), RUNNING)
    [msg] = await relay.wait_for(1)
    await a.close()
    sender = a.sender
    assert sender.endswith(f"@{HOST}")
    assert relay.envelopes[0].mail_from == sender
    assert relay.envelopes[0].rcpt_tos == ["ops@example.com"]
    assert msg["Subject"] == DEL_2
    assert msg["From"] == sender
    assert msg["To"] == "ops@example.com"
    assert msg["Date"] and msg["Message-ID"]
    assert text(msg) == (f"ldirectord host: {HOST}\nLog-Message: {DEL_2}\n"
                         "Daemon-Status: running\n")
    assert f"emailalert: {DEL_2}" in lines(caplog)
    raw = relay.envelopes[0].original_content
    assert isinstance(raw, bytes)  # plain lines, as the original's (no quoted-printable)
    assert b"Content-Transfer-Encoding: 7bit" in raw
    assert f"\r\nLog-Message: {DEL_2}\r\n".encode() in raw


@pytest.mark.asyncio
async def test_servicename_comment_and_emailalertfrom(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    v = virtual(servicename="web shop", comment="rack 4, call Sam")
    a = alerts(relay, config(v, emailalertfrom="lvs@example.com"))
    a.event(dest(v, DestChange.QUIESCED), DaemonState.STARTING)
    [msg] = await relay.wait_for(1)
    await a.close()
    subject = ("[web shop] Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) "
               "(Weight set to 0)")
    assert msg["Subject"] == subject
    assert msg["From"] == "lvs@example.com"
    assert relay.envelopes[0].mail_from == a.sender  # the envelope stays user@host
    assert text(msg) == (f"ldirectord host: {HOST}\nLog-Message: {subject}\n"
                         "Daemon-Status: starting\n\nService name: web shop\n"
                         "Comment: rack 4, call Sam\n\n")
    # As the original: the log line is the message, without the servicename prefix.
    assert f"emailalert: {subject.removeprefix('[web shop] ')}" in lines(caplog)


def test_body_with_a_comment_only() -> None:
    route = MailRoute("ops@example.com", None, ALL_DAEMON_STATES, None, "spare", "tcp:x")
    assert body(MailItem(route, "S", DaemonState.STOPPING), "h") == (
        "ldirectord host: h\nLog-Message: S\nDaemon-Status: stopping\n\nComment: spare\n\n")


@pytest.mark.asyncio
async def test_every_recipient_of_a_list_gets_its_own_rcpt(relay: Relay) -> None:
    v = virtual(emailalert="a@example.com, b@example.com,c@example.org")
    a = alerts(relay, config(v))
    a.event(dest(v, DestChange.DELETED), RUNNING)
    [msg] = await relay.wait_for(1)
    await a.close()
    assert relay.envelopes[0].rcpt_tos == ["a@example.com", "b@example.com", "c@example.org"]
    assert [x.addr_spec for x in msg["To"].addresses] == [
        "a@example.com", "b@example.com", "c@example.org"]


@pytest.mark.asyncio
async def test_a_refused_recipient_is_logged_and_the_others_get_the_mail(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    relay.refuse.add("nobody@example.com")
    v = virtual(emailalert="nobody@example.com, ops@example.com")
    a = alerts(relay, config(v))
    a.event(dest(v, DestChange.DELETED), RUNNING)
    await relay.wait_for(1)
    await a.close()
    assert relay.envelopes[0].rcpt_tos == ["ops@example.com"]
    assert "emailalert: recipient nobody@example.com refused: 550 no such user" in lines(caplog)
    assert "failed to send SMTP email message" not in lines(caplog)


def test_recipient_lists() -> None:
    assert recipients("root") == ["root"]
    assert recipients(" a@x.example , b@y.example ") == ["a@x.example", "b@y.example"]
    assert recipients("Ops <ops@x.example>, b@y.example") == ["ops@x.example", "b@y.example"]
    assert recipients("") == []


@pytest.mark.asyncio
async def test_the_status_filter_and_an_empty_list_skip_silently(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    filtered = virtual(emailalertstatus=frozenset({RUNNING}))
    silent = virtual(address="10.0.0.9", emailalert="")
    a = alerts(relay, config(filtered, silent), rate_interval=0)
    a.event(dest(filtered, DestChange.DELETED), DaemonState.STARTING)
    a.event(dest(silent, DestChange.DELETED), RUNNING)
    a.event(dest(filtered, DestChange.ADDED), RUNNING)
    msgs = await relay.wait_for(1)
    await a.close()
    assert [m["Subject"] for m in msgs] == [ADD_2]  # queued in order: nothing before it
    assert [x for x in lines(caplog) if x.startswith("emailalert")] == [f"emailalert: {ADD_2}"]


@pytest.mark.asyncio
async def test_global_settings_when_the_event_has_no_virtual(relay: Relay) -> None:
    a = alerts(relay, config(emailalert="root@example.com", smtp="127.0.0.1"))

    @dataclass(frozen=True)
    class Note:
        message: str | None = None
        mail_subject: str | None = "a note"
        reminder: Reminder = Reminder.NONE
        op: Op | None = None
        virtual: VirtualService | None = None

    a.event(Note(), RUNNING)
    [msg] = await relay.wait_for(1)
    await a.close()
    assert (msg["Subject"], relay.envelopes[0].rcpt_tos) == ("a note", ["root@example.com"])


# -- reminders and the rate limit ------------------------------------------------------------

@pytest.mark.asyncio
async def test_reminders_while_a_real_stays_down(relay: Relay) -> None:
    clock = Clock()
    v = virtual(emailalertfreq=30, servicename="web")
    a = alerts(relay, config(v), clock=clock, rate_interval=0)
    a.event(dest(v, DestChange.DELETED), RUNNING)
    a.event(dest(v, DestChange.DELETED, "127.0.0.1", Role.FALLBACK), RUNNING)
    await relay.wait_for(2)
    for now in (1010.0, 1029.0, 1030.0, 1045.0, 1060.0):
        a.tick(now, RUNNING)
    msgs = await relay.wait_for(4)
    reminder = "[web] Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)"
    assert [m["Subject"] for m in msgs[2:]] == [reminder, reminder]  # the fallback has none
    assert text(msgs[2]).startswith(f"ldirectord host: {HOST}\nLog-Message: {reminder}\n")
    clock.t = 1070.0
    a.event(dest(v, DestChange.ADDED), RUNNING)  # clears it
    a.tick(2000.0, RUNNING)
    a.event(dest(v, DestChange.DELETED, "10.0.0.3"), RUNNING)  # a marker
    msgs = await relay.wait_for(6)
    await a.close()
    assert [m["Subject"] for m in msgs[4:]] == [
        f"[web] {ADD_2}", "[web] Deleted real server: 10.0.0.3:80 (10.0.0.1:80)"]
    assert len(relay.envelopes) == 6


@pytest.mark.asyncio
async def test_a_reload_keeps_reminders_with_the_new_settings(relay: Relay) -> None:
    v = virtual(emailalertfreq=30)
    gone = virtual(address="10.0.0.5", emailalertfreq=30)
    a = alerts(relay, config(v, gone), clock=Clock(), rate_interval=0)
    a.event(dest(v, DestChange.DELETED), RUNNING)
    a.event(dest(gone, DestChange.DELETED), RUNNING)
    await relay.wait_for(2)
    a.configure(config(replace(v, emailalertfreq=100, emailalert="new@example.com")))
    a.tick(1050.0, RUNNING)  # not yet: the period is now 100 s
    a.tick(1100.0, RUNNING)
    msgs = await relay.wait_for(3)
    await a.close()
    assert len(msgs) == 3
    assert msgs[2]["Subject"] == "Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)"
    assert relay.envelopes[2].rcpt_tos == ["new@example.com"]


@pytest.mark.asyncio
@pytest.mark.parametrize("wall", CASES, ids=IDS)
async def test_a_flapping_real_costs_one_mail_per_window_with_a_summary(
        relay: Relay, caplog: pytest.LogCaptureFixture, wall: WallCase) -> None:
    clock = Clock()
    v = virtual()
    # The wall clock runs with the test's clock, from a moment the case fixes.
    with fixed_wall(wall, elapsed=lambda: clock.t - 1000.0):
        a = alerts(relay, config(v), clock=clock, rate_interval=60)
        flaps = [DestChange.DELETED, DestChange.ADDED, DestChange.DELETED, DestChange.ADDED]
        for i, change in enumerate(flaps):
            clock.t = 1000.0 + 5 * i
            a.event(dest(v, change), RUNNING)
        a.event(dest(v, DestChange.DELETED, "10.0.0.3"), RUNNING)  # another real: its own
        a.tick(1030.0, RUNNING)
        a.tick(1059.0, RUNNING)
        a.tick(1060.0, RUNNING)  # the window of 10.0.0.2 ended: one summary
        msgs = await relay.wait_for(3)
        a.tick(1200.0, RUNNING)
        a.event(dest(v, DestChange.DELETED, "10.0.0.4"), RUNNING)  # a marker
        msgs = await relay.wait_for(4)
        await a.close()
    assert [m["Subject"] for m in msgs] == [
        DEL_2, "Deleted real server: 10.0.0.3:80 (10.0.0.1:80)", ADD_2,
        "Deleted real server: 10.0.0.4:80 (10.0.0.1:80)"]
    summary = text(msgs[2]).splitlines()
    assert summary[:4] == [f"ldirectord host: {HOST}", f"Log-Message: {ADD_2}",
                           "Daemon-Status: running", ""]
    assert summary[4] == ("Not mailed at the time (at most one mail per real server "
                          "every 60 s):")
    # The original's stamp (Perl's scalar localtime, the day padded: "Dec  6") of each
    # held transition, 5, 10 and 15 s after the first mail; the test's clock stood at
    # 15 s when the mails were built.
    assert summary[5:] == [f"{wall.stamps[1]} {ADD_2}", f"{wall.stamps[2]} {DEL_2}",
                           f"{wall.stamps[3]} {ADD_2}"]
    assert [m["Date"] for m in msgs] == [wall.date_header] * 4
    assert len([x for x in lines(caplog) if x.startswith("emailalert: ")]) == 4
    assert [x for x in lines(caplog) if x.startswith("emailalert held back")] == [
        f"emailalert held back (at most one mail per real server every 60 s): {ADD_2}"]


@pytest.mark.asyncio
async def test_a_long_flap_lists_the_first_transitions_and_the_latest(relay: Relay) -> None:
    clock = Clock()
    v = virtual(servicename="Bücher")
    a = alerts(relay, config(v), clock=clock, rate_interval=60)
    for i in range(31):  # one mailed, 30 held: 19 listed, 10 counted, the latest
        clock.t = 1000.0 + i
        change = DestChange.DELETED if i % 2 == 0 else DestChange.ADDED
        a.event(dest(v, change), RUNNING)
    a.tick(1060.0, RUNNING)
    msgs = await relay.wait_for(2)
    await a.close()
    assert msgs[1]["Subject"] == f"[Bücher] {DEL_2}"
    listed = text(msgs[1]).split("every 60 s):\n")[1].splitlines()
    assert len(listed) == 21
    assert listed[-2] == "... 10 more ..."
    assert listed[0].endswith(f" {ADD_2}")
    assert listed[-1].endswith(f" {DEL_2}")
    assert text(msgs[1]).startswith(f"ldirectord host: {HOST}\nLog-Message: [Bücher] {DEL_2}\n"
                                    "Daemon-Status: running\n\nService name: Bücher\n\n"
                                    "Not mailed at the time")


@pytest.mark.asyncio
async def test_held_transitions_are_mailed_at_close(relay: Relay) -> None:
    clock = Clock()
    v = virtual()
    a = alerts(relay, config(v), clock=clock)
    a.event(dest(v, DestChange.ADDED), RUNNING)
    clock.t += 1
    a.event(dest(v, DestChange.DELETED), DaemonState.STOPPING)
    await a.close()
    msgs = await relay.wait_for(2)
    assert [m["Subject"] for m in msgs] == [ADD_2, DEL_2]
    assert text(msgs[1]).endswith("Daemon-Status: stopping\n")  # one held: no list
    assert not mail_tasks()


# -- never blocking ----------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_a_dead_relay_blocks_neither_the_caller_nor_other_virtuals(
        relay: Relay, blackhole: list[asyncio.StreamWriter],
        caplog: pytest.LogCaptureFixture) -> None:
    dead = virtual(smtp="127.0.0.2")
    live = virtual(address="10.0.0.7")
    a = alerts(relay, config(dead, live), send_timeout=5.0)
    a.event(dest(dead, DestChange.DELETED), RUNNING)
    # event() has returned and nothing was sent yet: sending happens in the background.
    assert mail_tasks() and not relay.envelopes
    a.event(dest(live, DestChange.DELETED), RUNNING)
    [msg] = await relay.wait_for(1)
    assert msg["Subject"] == "Deleted real server: 10.0.0.2:80 (10.0.0.7:80)"
    assert "failed to send SMTP email message" not in lines(caplog)  # still waiting
    await wait_line(caplog, "failed to send SMTP email message")
    assert blackhole  # the dead relay did accept the connection
    await a.close()
    assert not mail_tasks()


@pytest.mark.asyncio
async def test_a_refusing_relay_logs_one_failure_per_message(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    v = virtual(smtp="127.0.0.3")  # nothing listens there
    a = alerts(relay, config(v), rate_interval=0)
    a.event(dest(v, DestChange.DELETED), RUNNING)
    a.event(dest(v, DestChange.ADDED), RUNNING)
    await wait_line(caplog, "failed to send SMTP email message", 2)
    await a.close()
    assert lines(caplog).count("failed to send SMTP email message") == 2


@pytest.mark.asyncio
async def test_close_is_bounded_and_leaves_no_task(
        relay: Relay, blackhole: list[asyncio.StreamWriter],
        caplog: pytest.LogCaptureFixture) -> None:
    v = virtual(smtp="127.0.0.2")
    a = alerts(relay, config(v), rate_interval=0, send_timeout=60.0, close_timeout=0.3)
    for change in (DestChange.DELETED, DestChange.ADDED, DestChange.DELETED):
        a.event(dest(v, change), RUNNING)
    await a.close()
    assert not mail_tasks()
    assert "emailalert: 3 message(s) not sent at stop" in lines(caplog)
    a.event(dest(v, DestChange.ADDED), RUNNING)  # after close: dropped
    assert not mail_tasks()


@pytest.mark.asyncio
async def test_close_sends_what_is_queued(relay: Relay) -> None:
    v = virtual()
    a = alerts(relay, config(v), rate_interval=0)
    for host in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
        a.event(dest(v, DestChange.DELETED, host), RUNNING)
    await a.close()
    assert len(relay.envelopes) == 3
    assert not mail_tasks()


# -- the local mailer ----------------------------------------------------------------------------

def mailer(tmp_path: Path, script: str = "") -> tuple[str, Path]:
    """An executable that records its arguments and stdin, as sendmail would receive them."""
    out = tmp_path / "mailer.out"
    path = tmp_path / "sendmail"
    path.write_text(
        f"#!{sys.executable}\nimport sys, json\n"
        f"data = sys.stdin.buffer.read()\n"
        f"open({str(out)!r}, 'a').write(json.dumps([sys.argv[1:], data.decode()]) + '\\n')\n"
        + script)
    path.chmod(0o755)
    return str(path), out


@pytest.mark.asyncio
async def test_without_smtp_the_local_mailer_gets_the_message(
        tmp_path: Path, relay: Relay) -> None:
    import json

    program, out = mailer(tmp_path)
    v = virtual(smtp=None, emailalert="a@example.com, b@example.com")
    a = MailAlerts(config(v), sendmail=(program, "-t", "-oi"))
    a.event(dest(v, DestChange.DELETED), RUNNING)
    await a.close()
    [(argv, data)] = [json.loads(x) for x in out.read_text().splitlines()]
    assert argv == ["-t", "-oi"]
    msg = email.message_from_string(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert (msg["To"], msg["Subject"], msg["From"]) == (
        "a@example.com, b@example.com", DEL_2, a.sender)
    assert text(msg) == (f"ldirectord host: {HOST}\nLog-Message: {DEL_2}\n"
                         "Daemon-Status: running\n")
    assert not relay.envelopes


@pytest.mark.parametrize(("script", "program"), [
    ("", "/nonexistent/sendmail"),  # no mailer installed
    ("sys.exit(75)\n", None),  # the mailer fails
    ("import time\ntime.sleep(60)\n", None),  # the mailer hangs: killed after send_timeout
])
@pytest.mark.asyncio
async def test_local_mailer_failures_are_logged_per_message(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, script: str,
        program: str | None) -> None:
    path, _ = mailer(tmp_path, script)
    v = virtual(smtp=None)
    a = MailAlerts(config(v), sendmail=(program or path, "-t", "-oi"), send_timeout=1.0,
                   rate_interval=0)
    a.event(dest(v, DestChange.DELETED), RUNNING)
    a.event(dest(v, DestChange.ADDED), RUNNING)
    await wait_line(caplog, "failed to send email message", 2)
    await a.close()
    assert lines(caplog).count("failed to send email message") == 2
    assert not mail_tasks()


# -- the daemon's seam -------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_daemon_uses_the_mailer() -> None:
    made: Callable[[Config], object] = alerts_for
    a = made(config(virtual()))
    assert isinstance(a, MailAlerts)
    await a.close()


@pytest.mark.asyncio
async def test_through_the_supervisor(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    from tests.unit.runtime.harness import Harness
    from tests.unit.runtime.harness import config as hconfig
    from tests.unit.runtime.harness import virtual as hvirtual

    v = hvirtual("10.0.0.2", "10.0.0.3", emailalert="ops@example.com", smtp="127.0.0.1",
                 emailalertfreq=30, fallback=False)
    h = Harness(hconfig(v), caplog)
    mail = MailAlerts(h.sup.config, clock=h.clock.now, smtp_port=relay.port)
    h.sup.alerts = h.sup.controller.alerts = mail
    await h.start()
    await h.clock.advance(0)
    await relay.wait_for(2)  # the start-up adds
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)  # deleted, 5 s after its last mail: held
    await h.clock.advance(30)  # the reminder falls due: the held deletion goes instead
    await relay.wait_for(3)
    await h.clock.advance(30)  # and then the reminder proper
    await relay.wait_for(4)
    assert await h.stop() == 0  # close: the held purge of 10.0.0.3 is mailed
    msgs = await relay.wait_for(5)
    assert [(m["Subject"], text(m).splitlines()[2]) for m in msgs] == [
        (ADD_2, "Daemon-Status: starting"),
        ("Added real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 1)",
         "Daemon-Status: starting"),
        (DEL_2, "Daemon-Status: running"),
        ("Inaccessible real server: 10.0.0.2:80 (10.0.0.1:80)", "Daemon-Status: running"),
        ("Purged real server (stop): 10.0.0.3:80 (10.0.0.1:80)", "Daemon-Status: stopping")]
    assert text(msgs[2]).endswith("Daemon-Status: running\n")  # one held: no list to add
    assert not mail_tasks()


@pytest.mark.asyncio
async def test_a_full_queue_drops_its_oldest_mail_and_says_so(
        relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    v = virtual()
    a = alerts(relay, config(v), rate_interval=0, queue_limit=2)
    hosts = ("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5")
    for host in hosts:  # all queued before the worker first runs
        a.event(dest(v, DestChange.DELETED, host), RUNNING)
    await a.close()
    got = [parsed(e)["Subject"] for e in relay.envelopes]
    assert got == [f"Deleted real server: {h}:80 (10.0.0.1:80)" for h in hosts[2:]]
    assert [x for x in lines(caplog) if "too many queued" in x] == [
        f"emailalert not sent (too many queued): Deleted real server: {h}:80 (10.0.0.1:80)"
        for h in hosts[:2]]
