"""What the engine tells the runtime: log lines, e-mail alerts, reminders, fallbackcommand runs.

Every event renders the original's exact log text (SPEC B §5.4) through `.message`, says
whether it is e-mailed (§5.6: every real/fallback change, never a virtual service change)
and with which subject, and whether it starts or clears an e-mail reminder. The runtime
logs `.message` when it is not None, mails `.mail_subject` when it is not None (subject to
the virtual's emailalert/emailalertstatus), keeps reminders keyed by `.reminder_key`, and
runs the fallbackcommand for `FallbackCommand` events. All of them are an `Event`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Protocol

from ldirectord.config.model import IpvsProtocol, VirtualService
from ldirectord.ipvs.model import DestKey, Op, ServiceKey
from ldirectord.netloc import netloc

__all__ = [
    "DestChange",
    "DestEvent",
    "Event",
    "FallbackAction",
    "FallbackCommand",
    "Reminder",
    "Role",
    "ServiceChange",
    "ServiceEvent",
    "SoftFailure",
    "SoftFailureReset",
    "Tag",
    "service_display",
]


class Reminder(Enum):
    """What an event does to the e-mail reminder of its (service, destination)."""

    NONE = "none"
    START = "start"
    CLEAR = "clear"


class Event(Protocol):
    """What the runtime reads of every event.

    `op` is the operation the event stands for: if applying stops at a refused operation,
    only the events of the applied ones are logged. `virtual` is the virtual whose
    e-mail settings apply (None: the global ones).
    """

    @property
    def message(self) -> str | None: ...

    @property
    def mail_subject(self) -> str | None: ...

    @property
    def reminder(self) -> Reminder: ...

    @property
    def op(self) -> Op | None: ...

    @property
    def virtual(self) -> VirtualService | None: ...


class _Unmailed:
    """An event that is not mailed and leaves reminders alone."""

    __slots__ = ()

    @property
    def mail_subject(self) -> str | None:
        return None

    @property
    def reminder(self) -> Reminder:
        return Reminder.NONE


class _Unapplied(_Unmailed):
    """An event that stands for no operation on the table, so no refusal holds it back."""

    __slots__ = ()

    @property
    def op(self) -> Op | None:
        return None


class Tag(StrEnum):
    """The word in `Purged ... (start|stop)`: start-up and reload say start."""

    START = "start"
    STOP = "stop"


def service_display(key: ServiceKey) -> str:
    """How log lines name a service: `10.0.0.1:80`, `[2001:db8::1]:80`, or the mark."""
    if key.fwmark is not None:
        return str(key.fwmark)
    return netloc(str(key.address), key.port)


class ServiceChange(Enum):
    ADDED = "Added"
    CHANGED = "Changed"
    PURGED = "Purged"


@dataclass(frozen=True, slots=True)
class ServiceEvent(_Unmailed):
    """A virtual service was added, changed (its attributes differed) or purged."""

    change: ServiceChange
    service: ServiceKey
    op: Op
    tag: Tag = Tag.START

    @property
    def display(self) -> str:
        return service_display(self.service)

    @property
    def message(self) -> str:
        match self.change:
            case ServiceChange.ADDED | ServiceChange.CHANGED:
                return f"{self.change.value} virtual server: {self.display}"
            case ServiceChange.PURGED:
                return f"Purged virtual server ({self.tag}): {self.display}"

    @property
    def virtual(self) -> VirtualService | None:
        """A service change is never mailed: no virtual's settings apply."""
        return None


class Role(StrEnum):
    """Whose destination changed: a configured real or the fallback server."""

    REAL = "real"
    FALLBACK = "fallback"


class DestChange(Enum):
    ADDED = "Added"
    RESTORED = "Restored"
    QUIESCED = "Quiescent"
    READDED = "Readd Quiescent"
    DELETED = "Deleted"
    PURGED = "Purged"


_OUT = frozenset({DestChange.QUIESCED, DestChange.READDED, DestChange.DELETED})


@dataclass(frozen=True, slots=True)
class DestEvent:
    """A real or fallback destination changed in one virtual.

    `server` is `<RIP>:<port>` as configured (the table's key for an untracked dest);
    `dest` is where the kernel holds it. When they differ (gate/ipip on a TCP/UDP virtual
    maps the port) take-outs say `<dest> mapped from <server>`, as the original does.
    """

    change: DestChange
    role: Role
    virtual: VirtualService
    service: ServiceKey
    dest: DestKey
    server: str
    weight: int
    op: Op | None
    tag: Tag = Tag.START

    @property
    def display(self) -> str:
        return self.virtual.display

    @property
    def mapped(self) -> bool:
        return str(self.dest) != self.server

    @property
    def _taken_out(self) -> str:
        """The server text of a take-out: the kernel's entry, and where it came from."""
        if self.mapped:
            return f"{self.dest} mapped from {self.server}"
        return self.server

    @property
    def message(self) -> str:
        role, vip = self.role.value, self.display
        match self.change:
            case DestChange.ADDED | DestChange.RESTORED:
                return (f"{self.change.value} {role} server: {self.server} ({vip}) "
                        f"(Weight set to {self.weight})")
            case DestChange.QUIESCED:
                return f"Quiescent real server: {self._taken_out} ({vip}) (Weight set to 0)"
            case DestChange.READDED:
                return f"Readd Quiescent real server: {self.server} ({vip}) (Weight set to 0)"
            case DestChange.DELETED:
                return f"Deleted {role} server: {self._taken_out} ({vip})"
            case DestChange.PURGED:
                return f"Purged real server ({self.tag}): {self.server} ({vip})"

    @property
    def mail_subject(self) -> str | None:
        """Every destination change is mailed; a re-add says `Quiescent` (SPEC B §5.6)."""
        if self.change is DestChange.READDED:
            return f"Quiescent real server: {self.server} ({self.display}) (Weight set to 0)"
        return self.message

    @property
    def reminder(self) -> Reminder:
        """Taking a real out starts a reminder; anything else about it clears it
        (a fallback deletion never schedules one)."""
        if self.role is Role.REAL and self.change in _OUT:
            return Reminder.START
        return Reminder.CLEAR

    @property
    def reminder_key(self) -> tuple[ServiceKey, DestKey]:
        return (self.service, self.dest)

    @property
    def reminder_subject(self) -> str:
        """The subject of the periodic reminder mail for this real."""
        server = str(self.dest) if self.mapped and self.change is not DestChange.READDED \
            else self.server
        return f"Inaccessible real server: {server} ({self.display})"


@dataclass(frozen=True, slots=True)
class SoftFailure(_Unapplied):
    """A failed check that did not reach failurecount yet (logged once per virtual)."""

    virtual: VirtualService
    server: str
    failures: int
    failurecount: int

    @property
    def message(self) -> str:
        return (f"Soft failure real server: {self.server} ({self.virtual.vid}) "
                f"failure {self.failures}/{self.failurecount}")


@dataclass(frozen=True, slots=True)
class SoftFailureReset(_Unapplied):
    """A success after failures (logged once per virtual)."""

    virtual: VirtualService
    server: str

    @property
    def message(self) -> str:
        return f"Resetting soft failure count: {self.server} ({self.virtual.vid})"


class FallbackAction(StrEnum):
    START = "start"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class FallbackCommand(_Unapplied):
    """Run the virtual's fallbackcommand with `start` (no real up) or `stop` (one is).

    The command is run as `<fallbackcommand> <action> <VIPaddr>:<vport> <protocol>`
    (SPEC B §4.4); `arguments` are the three trailing words. It logs nothing itself.
    """

    virtual: VirtualService
    command: str
    action: FallbackAction

    @property
    def arguments(self) -> tuple[str, str, str]:
        v = self.virtual
        if v.fwmark is not None:
            return (self.action.value, f":{v.port}", IpvsProtocol.FWM.value)
        assert v.address is not None
        return (self.action.value, netloc(v.address, v.port), v.protocol.value)

    @property
    def message(self) -> str | None:
        return None
