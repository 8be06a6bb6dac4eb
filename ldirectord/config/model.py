"""The parsed ldirectord.cf: frozen, typed dataclasses that the rest of the daemon reads.

Rules of this file:
- Everything here is plain data. Parsing lives in the lexer/builder modules of this package.
- Every closed set is an enum. Host names and port names are already resolved: addresses are
  literals (IPv6 without brackets), ports are integers.
- Source positions (`where`) are excluded from equality and hashing, so two parses of the
  same text compare equal and a reload can tell "unchanged" entries by `==`.
- Values that inherit (global -> virtual) are stored already resolved on each virtual
  service; the global values stay on `Config` for reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ldirectord.errors import ConfigMessage

# Re-exported: the config speaks of the table's protocols and forwarding methods.
from ldirectord.ipvs.model import Forwarding as Forwarding
from ldirectord.ipvs.model import IpvsProtocol as IpvsProtocol
from ldirectord.netloc import netloc


class Service(StrEnum):
    """The `service=` values the original accepts."""

    DNS = "dns"
    FTP = "ftp"
    HTTP = "http"
    HTTPS = "https"
    HTTP_PROXY = "http_proxy"
    IMAP = "imap"
    IMAPS = "imaps"
    LDAP = "ldap"
    LDAPS = "ldaps"
    MYSQL = "mysql"
    NNTP = "nntp"
    NONE = "none"
    ORACLE = "oracle"
    POP = "pop"
    POPS = "pops"
    RADIUS = "radius"
    PGSQL = "pgsql"
    SIMPLETCP = "simpletcp"
    SIP = "sip"
    SMTP = "smtp"
    SUBMISSION = "submission"


class CheckType(StrEnum):
    """The `checktype=` values; a plain number N is COMBINED with `negotiate_every = N`."""

    CONNECT = "connect"
    NEGOTIATE = "negotiate"
    PING = "ping"
    EXTERNAL = "external"
    EXTERNAL_PERL = "external-perl"
    ON = "on"
    OFF = "off"
    COMBINED = "combined"


class HttpMethod(StrEnum):
    GET = "GET"
    HEAD = "HEAD"


class DaemonState(StrEnum):
    """Daemon states that `emailalertstatus` filters on."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    RELOADING = "reloading"


ALL_DAEMON_STATES: frozenset[DaemonState] = frozenset(DaemonState)


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where a directive was written: file path and 1-based line number."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


NOWHERE = SourcePos("<none>", 0)


@dataclass(frozen=True, slots=True)
class Fallback:
    """A fallback (sorry) server; weight is always 1 and thresholds 0."""

    host: str  # literal address, IPv6 without brackets
    port: int  # already the virtual's port when the file gave none
    forwarding: Forwarding = Forwarding.GATE
    ipv6: bool = False
    where: SourcePos = field(default=NOWHERE, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class RealServer:
    """One `real=`/`real6=` entry (a range in the file yields one RealServer per address)."""

    host: str  # literal address, IPv6 without brackets
    port: int  # 0 when the file gave none
    forwarding: Forwarding
    weight: int = 1
    request: str | None = None  # per-real override, always starting with "/" (or a URL)
    receive: str | None = None  # per-real override (Perl regex text)
    upper_threshold: int = 0  # u:N -> ipvsadm -x
    lower_threshold: int = 0  # l:N -> ipvsadm -y
    ipv6: bool = False
    where: SourcePos = field(default=NOWHERE, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class VirtualService:
    """One `virtual=`/`virtual6=` section with every inherited value resolved."""

    protocol: IpvsProtocol
    address: str | None  # literal address; None for firewall-mark services
    port: int  # 0 for firewall-mark services
    fwmark: int | None  # set only for firewall-mark services
    ipv6: bool
    reals: tuple[RealServer, ...]
    # checking
    checktype: CheckType = CheckType.NEGOTIATE
    negotiate_every: int = 0  # N of checktype=N (COMBINED); 0 otherwise
    service: Service = Service.NONE
    checkcommand: str = "/bin/true"
    checkport: int | None = None
    checktimeout: float = 5.0  # resolved as SPEC 2.7
    negotiatetimeout: float = 30.0  # resolved as SPEC 2.7
    checkinterval: float = 10.0  # resolved: per-virtual value, else global
    checkcount: int = 1
    failurecount: int = 1
    request: str = "/"
    receive: str = ""  # Perl regex text; "" = the service's empty-receive semantics
    httpmethod: HttpMethod = HttpMethod.GET
    virtualhost: str | None = None
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""
    # IPVS service attributes
    scheduler: str = "wrr"
    persistent: int | None = None
    netmask: str | None = None
    schedflags: str | None = None
    ops: bool = False
    # behaviour
    fallback: Fallback | None = None  # resolved: per-virtual, else the global one of the family
    fallbackcommand: str | None = None  # resolved: per-virtual, else global
    quiescent: bool = False  # resolved
    cleanstop: bool = True  # resolved
    emailalert: str = ""  # resolved; "" = no mail
    emailalertfreq: int = 0  # resolved
    emailalertstatus: frozenset[DaemonState] = ALL_DAEMON_STATES  # resolved
    smtp: str | None = None  # resolved
    monitorfile: str | None = None
    servicename: str | None = None
    comment: str | None = None
    where: SourcePos = field(default=NOWHERE, compare=False, hash=False)

    @property
    def vid(self) -> str:
        """The original's virtual id: `tcp:10.0.0.1:80`, `udp:[::1]:53`, `fwm:7`, `fwm6:7`."""
        if self.fwmark is not None:
            return f"fwm6:{self.fwmark}" if self.ipv6 else f"fwm:{self.fwmark}"
        return f"{self.protocol.value}:{self.display}"

    @property
    def display(self) -> str:
        """How log lines name the virtual: `10.0.0.1:80`, `[2001:db8::1]:80`, or the mark."""
        if self.fwmark is not None:
            return str(self.fwmark)
        assert self.address is not None
        return netloc(self.address, self.port)


@dataclass(frozen=True, slots=True)
class Config:
    """A whole ldirectord.cf. `virtuals` keep file order."""

    path: str  # absolute path of the file that was read
    virtuals: tuple[VirtualService, ...] = ()
    # globals (the values virtuals inherited from are kept for reference and reload)
    checkinterval: float = 10.0
    checktimeout: float | None = None  # as written; resolution happens per virtual
    negotiatetimeout: float | None = None
    checkcount: int = 1
    failurecount: int = 1
    fallback: Fallback | None = None
    fallback6: Fallback | None = None
    fallbackcommand: str | None = None
    autoreload: bool = False
    callback: str | None = None
    logfile: str = "/var/log/ldirectord.log"  # leading "/" = a file, else a syslog facility
    execute: tuple[str, ...] = ()
    fork: bool = False
    supervised: bool = False
    quiescent: bool = False
    readdquiescent: bool = False
    emailalert: str = ""
    emailalertfreq: int = 0
    emailalertstatus: frozenset[DaemonState] = ALL_DAEMON_STATES
    emailalertfrom: str | None = None
    cleanstop: bool = True
    smtp: str | None = None
    maintenancedir: str | None = None
    warnings: tuple[ConfigMessage, ...] = field(default=(), compare=False, hash=False)
