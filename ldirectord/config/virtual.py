"""One virtual section: the `virtual=` header (SPEC 2.2) and the per-virtual directives (2.6).

Values are collected into a mutable `VirtualDraft` while the section is read; `build.py`
turns it into a frozen `VirtualService` once the whole file (and so every global value
that the virtual inherits) is known.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ldirectord.config import convert as cv
from ldirectord.config.addresses import ambiguous_message
from ldirectord.config.convert import Invalid
from ldirectord.config.kernel import scheduler_error
from ldirectord.config.lexer import Line
from ldirectord.config.model import (
    CheckType,
    DaemonState,
    HttpMethod,
    IpvsProtocol,
    Service,
)
from ldirectord.config.perlre import PerlRegexError, compile_perl_regex
from ldirectord.config.reals import FallbackSpec, RealSpec, add_slash, parse_fallback, parse_real
from ldirectord.config.smtp import smtp_server

_V4_PORT = re.compile(r"(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)", re.ASCII)
_HOST_PORT = re.compile(r"([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)", re.ASCII)
_FWMARK = re.compile(r"(\d+)", re.ASCII)
_V6_PORT = re.compile(r"\[([0-9A-Fa-f:]+)\]:([0-9A-Za-z_-]+)", re.ASCII)
_TRAILING_COMMENT = re.compile(r"\s+#.*", re.DOTALL)
_SCHEDULER = re.compile(r"[a-z]+")
_MAX_FWMARK: Final = 2**32 - 1

SERVICES: Final = {s.value: s for s in Service}
_SERVICE_LIST: Final = ", ".join(sorted(SERVICES)[:-1]) + " or " + sorted(SERVICES)[-1]
CHECKTYPES: Final = {
    c.value: c for c in CheckType if c is not CheckType.COMBINED
}
_CHECKTYPE_MSG: Final = ('checktype must be "connect", "negotiate", "on", "off", "ping", '
                         '"external", "external-perl" or a number')


@dataclass(slots=True)
class VirtualDraft:
    """A virtual section being read; None means "not set here, inherit"."""

    line: int
    label: str
    ipv6: bool
    ok: bool = True  # False when the header itself was wrong (nothing is built)
    fwmark: int | None = None
    host: str | None = None
    port_text: str = "0"
    protocol: IpvsProtocol = IpvsProtocol.TCP
    checktype: CheckType = CheckType.NEGOTIATE
    negotiate_every: int = 0
    service: Service | None = None
    service_line: int = 0
    checkcommand: str = "/bin/true"
    checkport: int | None = None
    checktimeout: float | None = None
    negotiatetimeout: float | None = None
    checkinterval: float | None = None
    checkcount: int | None = None
    failurecount: int | None = None
    request: str = "/"
    receive: str = ""
    httpmethod: HttpMethod = HttpMethod.GET
    virtualhost: str | None = None
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""
    scheduler: str = "wrr"
    persistent: int | None = None
    netmask: str | None = None
    schedflags: str | None = None
    ops: bool = False
    fallback: tuple[FallbackSpec, int, str] | None = None
    fallbackcommand: str | None = None
    quiescent: bool | None = None
    cleanstop: bool | None = None
    emailalert: str | None = None
    emailalertfreq: int | None = None
    emailalertstatus: frozenset[DaemonState] | None = None
    smtp: str | None = None
    monitorfile: str | None = None
    servicename: str | None = None
    comment: str | None = None
    reals: list[tuple[RealSpec, int, str]] = field(default_factory=list)
    lines: dict[str, tuple[int, str]] = field(default_factory=dict)  # directive -> (line, label)


def parse_header(lineno: int, key: str, value: str, label: str) -> tuple[VirtualDraft, str]:
    """The draft opened by a `virtual=`/`virtual6=` line; raises Invalid with the draft
    marked not ok when the address form is wrong. The second item is a warning or ""."""
    ipv6 = key == "virtual6"
    draft = VirtualDraft(lineno, label, ipv6)
    warning = ""
    if (m := _V4_PORT.match(value)) and not ipv6:
        draft.host, draft.port_text = m.group(1), m.group(2)
    elif m := _HOST_PORT.match(value):
        draft.host, draft.port_text = m.group(1), m.group(2)
    elif m := _V6_PORT.match(value):
        if not ipv6:
            draft.ok = False
            raise Invalid('cannot specify an IPv6 address here. please use "virtual6" instead.')
        try:
            ipaddress.IPv6Address(m.group(1))
        except ValueError:
            draft.ok = False
            raise Invalid("invalid ipv6 address for virtual server") from None
        draft.host, draft.port_text = m.group(1), m.group(2)
    elif (m := _FWMARK.match(value)) and (value[m.end():] == ""
                                           or value[m.end()].isspace()):
        mark = cv.first_number(m.group(1), "invalid firewall mark")
        if not 1 <= mark <= _MAX_FWMARK:
            draft.ok = False
            raise Invalid(f"firewall mark must be between 1 and {_MAX_FWMARK}")
        draft.fwmark, draft.protocol, draft.service = mark, IpvsProtocol.FWM, Service.NONE
    else:
        draft.ok = False
        if re.match(r"\d+\.\d+\.\d+\.\d+(?:\s|$)", value):
            raise Invalid("a port is required: write address:port (or a plain number "
                          "for a firewall mark)")
        raise Invalid("invalid address for virtual server")
    rest = value[m.end():]
    if rest and not _TRAILING_COMMENT.fullmatch(rest):
        warning = f'text after the virtual address is ignored: "{rest.strip()}"'
    if draft.fwmark is None and draft.port_text in ("53", "domain"):
        draft.protocol = IpvsProtocol.UDP
    return draft, warning


@dataclass(slots=True)
class SectionContext:
    """What section handlers need besides the draft."""

    hostname: str
    warn: Callable[[str], None]
    appendable: Callable[[str], str | None]


def _regex(text: str) -> str:
    try:
        compile_perl_regex(text)
    except PerlRegexError as exc:
        raise Invalid(f"not a valid regular expression: {exc}") from None
    return text


def _real(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    want = "real6" if d.ipv6 else "real"
    if line.key != want:
        raise Invalid(f'cannot specify "{line.key}" here.  please use "{want}" instead')
    spec = parse_real(line.value)
    if spec.receive:
        _regex(spec.receive)
    d.reals.append((spec, line.lineno, cv.label(line.text)))


def _fallback(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    want = "fallback6" if d.ipv6 else "fallback"
    if line.key != want:
        raise Invalid(f'cannot specify "{line.key}" here.  please use "{want}" instead')
    d.fallback = (parse_fallback(line.value), line.lineno, cv.label(line.text))


def _checktype(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    v = line.value
    if v.isascii() and v.isdigit():
        d.checktype = CheckType.COMBINED
        d.negotiate_every = cv.first_number(v, _CHECKTYPE_MSG)
    elif v in CHECKTYPES:
        d.checktype, d.negotiate_every = CHECKTYPES[v], 0
    else:
        raise Invalid(_CHECKTYPE_MSG)


def _service(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    if line.value not in SERVICES:
        raise Invalid(f"service must be {_SERVICE_LIST}")
    d.service, d.service_line = SERVICES[line.value], line.lineno
    default = f"ldirectord@{ctx.hostname}"
    # The original fills these only when `service=` is read and only if still empty,
    # so the order of the lines matters (SPEC 2.6).
    if d.service is Service.FTP and not d.login:
        d.login = "anonymous"
    elif d.service is Service.SIP and not d.login:
        d.login = default
    if d.service is Service.FTP and not d.passwd:
        d.passwd = default


def _protocol(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    v = line.value
    if not re.match(r"\w", v):
        raise Invalid("invalid protocol")
    if d.protocol is IpvsProtocol.FWM:
        if v != "fwm":
            raise Invalid("protocol must be fwm if the virtual service is a fwmark (a number)")
    elif v in ("tcp", "udp"):
        d.protocol = IpvsProtocol(v)
    else:
        raise Invalid("protocol must be tcp or udp if the virtual service is an address "
                      "and port")


def _netmask(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    v = line.value
    if d.ipv6:
        d.netmask = str(cv.plain_number(
            v, "invalid netmask: a prefix length between 1 and 128 is required", 1, 128))
        return
    if v.count(".") == 3 and (ambiguous := ambiguous_message(v)) is not None:
        raise Invalid(f"invalid netmask: {ambiguous}")
    try:
        if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", v, re.ASCII):
            raise ValueError(v)
        d.netmask = str(ipaddress.IPv4Address(v))
    except ValueError:
        raise Invalid("invalid netmask: dotted quad notation is required") from None


def _scheduler(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    if not _SCHEDULER.fullmatch(line.value):
        raise Invalid("invalid scheduler, should be only lowercase letters (a-z)")
    if (error := scheduler_error(line.value)) is not None:
        raise Invalid(error)
    d.scheduler = line.value


def _schedflags(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    if not re.fullmatch(r"\S+", line.value):
        raise Invalid("schedflags must be one word, e.g. sh-port,sh-fallback")
    d.schedflags = line.value


def _monitorfile(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    path = cv.optionally_quoted(line.value)
    error = ctx.appendable(path)
    if error is not None:
        raise Invalid(f"unable to open monitorfile {path}: {error}")
    d.monitorfile = path


def _checkport(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    if not cv.is_whole(line.value):
        cv.whole(line.value, "invalid port", 1, 65535)  # raises, saying what is allowed
    port = cv.first_number(line.value, "invalid port")
    if not 0 < port < 65536:
        raise Invalid("checkport must be in range 1..65535")
    d.checkport = port


def _request(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    d.request = add_slash(cv.quoted_nonempty("request", line.value,
                                             "no request string specified"))


def _receive(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    d.receive = _regex(cv.quoted_nonempty("receive", line.value, "invalid receive string"))


def _httpmethod(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    if line.value.upper() not in ("GET", "HEAD"):
        raise Invalid("httpmethod must be GET or HEAD")
    d.httpmethod = HttpMethod(line.value.upper())


def _virtualhost(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    m = re.match(r'"?([^"]*)"?', line.value)
    d.virtualhost = (m.group(1) if m else line.value) or None


def _load(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    if not re.search(r"\w", cv.quoted("load", line.value)):
        raise Invalid("invalid string for load testing")


def _set(attr: str, conv: Callable[[str], object]) -> Callable[
        [VirtualDraft, Line, SectionContext], None]:
    def handler(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
        setattr(d, attr, conv(line.value))
    return handler


def _deprecated_checkcount(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    d.checkcount = cv.count(line.value, "invalid check count")
    ctx.warn("checkcount option is deprecated and slated for removal.  "
             "please see 'failurecount'")


def _connecttimeout(d: VirtualDraft, line: Line, ctx: SectionContext) -> None:
    raise Invalid("connecttimeout directive deprecated in favour of negotiatetimeout")


Handler = Callable[[VirtualDraft, Line, SectionContext], None]


def _seconds(msg: str) -> Callable[[str], float]:
    return lambda v: cv.seconds(v, msg)


def _count(msg: str) -> Callable[[str], int]:
    return lambda v: cv.count(v, msg)


# ipvsadm's limit for -p (MAX_TIMEOUT, 31 days); it refuses 0 too.
MAX_PERSISTENT: Final = 86400 * 31


def _persistent(v: str) -> int:
    return cv.whole(v, "invalid persistent timeout", 1, MAX_PERSISTENT,
                    out_of_range=f"1 to {MAX_PERSISTENT} seconds: ipvsadm refuses 0 and more "
                    "than 31 days")


def _quoted(name: str, msg: str) -> Callable[[str], str]:
    return lambda v: cv.quoted_nonempty(name, v, msg)


SECTION_HANDLERS: Final[dict[str, Handler]] = {
    "real": _real,
    "real6": _real,
    "request": _request,
    "receive": _receive,
    "checktype": _checktype,
    "checkcommand": _set("checkcommand", lambda v: cv.nonempty(
        cv.optionally_quoted(v), "invalid check command")),
    "checktimeout": _set("checktimeout", _seconds("invalid check timeout")),
    "connecttimeout": _connecttimeout,
    "negotiatetimeout": _set("negotiatetimeout", _seconds("invalid negotiate timeout")),
    "checkcount": _deprecated_checkcount,
    "failurecount": _set("failurecount", _count("invalid failure count")),
    "checkinterval": _set("checkinterval", _seconds("invalid checkinterval")),
    "checkport": _checkport,
    "login": _set("login", _quoted("login", "invalid login string")),
    "passwd": _set("passwd", _quoted("passwd", "invalid password")),
    "database": _set("database", _quoted("database", "invalid database")),
    "secret": _set("secret", _quoted("secret", "invalid secret")),
    "load": _load,
    "scheduler": _scheduler,
    "persistent": _set("persistent", _persistent),
    "netmask": _netmask,
    "schedflags": _schedflags,
    "protocol": _protocol,
    "ops": _set("ops", lambda v: cv.yes_no("ops", v)),
    "service": _service,
    "httpmethod": _httpmethod,
    "virtualhost": _virtualhost,
    "fallback": _fallback,
    "fallback6": _fallback,
    "fallbackcommand": _set("fallbackcommand",
                            lambda v: cv.shell_command(v, "invalid fallback command")),
    "quiescent": _set("quiescent", lambda v: cv.yes_no("quiescent", v)),
    "emailalert": _set("emailalert", cv.email_addresses),
    "emailalertfreq": _set("emailalertfreq", lambda v: cv.whole(
        v, "invalid email alert frequency")),
    "emailalertstatus": _set("emailalertstatus", cv.email_alert_status),
    "monitorfile": _monitorfile,
    "cleanstop": _set("cleanstop", lambda v: cv.yes_no("cleanstop", v)),
    "smtp": _set("smtp", smtp_server),
    "servicename": _set("servicename", lambda v: cv.nonempty(v, "no service name specified")),
    "comment": _set("comment", lambda v: cv.nonempty(v, "no comment specified")),
}
