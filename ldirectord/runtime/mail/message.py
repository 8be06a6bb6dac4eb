"""Mail building: where a virtual's alerts go, and the original's subject, body and headers."""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from email.message import EmailMessage

from ldirectord.config.model import Config, DaemonState, VirtualService
from ldirectord.logsetup import ctime

# Headers stay on one line (up to RFC 5322's hard limit) as the original sends them; the
# default folding at 78 columns splits subjects oddly (`Subject:` alone on its line).
MAX_LINE = 998
WIRE = email.policy.SMTP.clone(max_line_length=MAX_LINE)
LOCAL = email.policy.default.clone(max_line_length=MAX_LINE)


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


def message(mail: Mail, *, hostname: str, sender: str, from_: str | None,
            date: float) -> EmailMessage:
    """The whole message, dated `date` (wall time); a line break in a config value cannot
    inject a header."""
    msg = EmailMessage(policy=LOCAL)
    msg["From"] = " ".join((from_ or sender).splitlines())
    msg["To"] = " ".join(mail.route.to.splitlines())
    msg["Subject"] = " ".join(mail.subject.splitlines())
    msg["Date"] = email.utils.formatdate(date, localtime=True)
    msg["Message-ID"] = email.utils.make_msgid("ldirectord", domain=hostname or "localhost")
    text = body(mail, hostname)  # plain 7bit like the original's, unless it needs encoding
    plain = text.isascii() and max(map(len, text.splitlines())) <= MAX_LINE
    msg.set_content(text, cte="7bit" if plain else "quoted-printable")
    return msg
