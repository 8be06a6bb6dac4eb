"""The global directives of ldirectord.cf (SPEC 2.5): one handler per directive name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ldirectord.config import convert as cv
from ldirectord.config.convert import Invalid
from ldirectord.config.lexer import Line
from ldirectord.config.model import ALL_DAEMON_STATES, DaemonState, IpvsProtocol, SourcePos
from ldirectord.config.reals import FallbackSpec, parse_fallback, resolve_fallback_host
from ldirectord.config.resolve import System, resolve_port
from ldirectord.config.smtp import smtp_server

SYSLOG_FACILITIES: Final = frozenset({
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
    "user", "uucp", *(f"local{i}" for i in range(8)),
})
TIMEOUT_MSG: Final = ("timeout directive deprecated in favour of checktimeout and "
                      "negotiatetimeout")


@dataclass(slots=True)
class GlobalFallback:
    """A global fallback: host resolved at once, port per virtual (it may be a name)."""

    spec: FallbackSpec
    host: str
    ipv6: bool
    where: SourcePos


@dataclass(slots=True)
class Globals:
    """Global values as read so far (the original's set_defaults first)."""

    checktimeout: float | None = None
    negotiatetimeout: float | None = None
    checkinterval: float = 10.0
    checkcount: int = 1
    failurecount: int = 1
    fallback: GlobalFallback | None = None
    fallback6: GlobalFallback | None = None
    fallbackcommand: str | None = None
    autoreload: bool = False
    callback: str | None = None
    logfile: str = "/var/log/ldirectord.log"
    execute: dict[str, None] = field(default_factory=dict)
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


@dataclass(slots=True)
class GlobalContext:
    path: str
    system: System
    warn: Callable[[str], None]


GlobalHandler = Callable[[Globals, Line, GlobalContext], None]


def _set(attr: str, conv: Callable[[str], object]) -> GlobalHandler:
    def handler(g: Globals, line: Line, ctx: GlobalContext) -> None:
        setattr(g, attr, conv(line.value))
    return handler


def _seconds(msg: str) -> Callable[[str], float]:
    return lambda v: cv.seconds(cv.without_note(v), msg)


def _count(msg: str) -> Callable[[str], int]:
    return lambda v: cv.count(cv.without_note(v), msg)


def _yes_no(name: str) -> GlobalHandler:
    return _set(name, lambda v: cv.yes_no(name, v))


def _always(msg: str) -> GlobalHandler:
    def handler(g: Globals, line: Line, ctx: GlobalContext) -> None:
        raise Invalid(msg)
    return handler


def _checkcount(g: Globals, line: Line, ctx: GlobalContext) -> None:
    g.checkcount = _count("invalid check count value")(line.value)
    ctx.warn("checkcount option is deprecated and slated for removal.  "
             "please see 'failurecount'")


def _fallback(g: Globals, line: Line, ctx: GlobalContext) -> None:
    ipv6 = line.key == "fallback6"
    spec = parse_fallback(line.value)
    host = resolve_fallback_host(spec, ctx.system, ipv6)
    # The original insists that a port name resolves for tcp and for udp; a name known
    # for one protocol only is accepted here and checked against each virtual's protocol.
    if spec.port is not None and all(
            resolve_port(ctx.system, spec.port, proto) is None
            for proto in (IpvsProtocol.TCP, IpvsProtocol.UDP)):
        raise Invalid(f"invalid port for fallback server: {spec.port}")
    fallback = GlobalFallback(spec, host, ipv6, SourcePos(ctx.path, line.lineno))
    if ipv6:
        g.fallback6 = fallback
    else:
        g.fallback = fallback


def _callback(g: Globals, line: Line, ctx: GlobalContext) -> None:
    g.callback = cv.quoted("callback", line.value) or None
    if g.callback is None:
        ctx.warn("empty callback: no callback will run")


def _logfile(g: Globals, line: Line, ctx: GlobalContext) -> None:
    target = cv.quoted_nonempty("logfile", line.value,
                                "no log file or syslog facility specified")
    if target.startswith("/"):
        if ctx.system.appendable(target) is not None:
            raise Invalid(f"unable to open logfile: {target}")
    elif target not in SYSLOG_FACILITIES:
        ctx.warn(f'"{target}" is not a known syslog facility (a log file needs an '
                 "absolute path)")
    g.logfile = target


def _execute(g: Globals, line: Line, ctx: GlobalContext) -> None:
    # The original hands the value to a shell, which removes enclosing quotes; the
    # manual writes it quoted. We run it without a shell, so the quotes go here.
    name = cv.optionally_quoted(line.value)
    g.execute[cv.nonempty(name, "no configuration name specified for execute")] = None


def _supervised(g: Globals, line: Line, ctx: GlobalContext) -> None:
    if line.text.rstrip() == "supervised":
        g.supervised = True
        ctx.warn("please update your config not to use a bare supervised directive")
        return
    g.supervised = cv.yes_no("supervised", line.value)


def _maintenancedir(g: Globals, line: Line, ctx: GlobalContext) -> None:
    g.maintenancedir = cv.nonempty(line.value, "maintenance directory not specified")
    if not ctx.system.is_dir(g.maintenancedir):
        ctx.warn("maintenance directory does not exist")


GLOBAL_HANDLERS: Final[dict[str, GlobalHandler]] = {
    "checktimeout": _set("checktimeout", _seconds("invalid check timeout value")),
    "negotiatetimeout": _set("negotiatetimeout", _seconds("invalid negotiate timeout value")),
    "connecttimeout": _always("connecttimeout directive deprecated in favour of "
                              "negotiatetimeout"),
    "timeout": _always(TIMEOUT_MSG),
    "checkinterval": _set("checkinterval", _seconds("invalid check interval value")),
    "checkcount": _checkcount,
    "failurecount": _set("failurecount", _count("invalid failure count value")),
    "fallback": _fallback,
    "fallback6": _fallback,
    "fallbackcommand": _set("fallbackcommand",
                            lambda v: cv.shell_command(v, "invalid fallback command")),
    "autoreload": _yes_no("autoreload"),
    "callback": _callback,
    "logfile": _logfile,
    "execute": _execute,
    "fork": _yes_no("fork"),
    "supervised": _supervised,
    "quiescent": _yes_no("quiescent"),
    "readdquiescent": _yes_no("readdquiescent"),
    "emailalert": _set("emailalert", cv.email_addresses),
    "emailalertfreq": _set("emailalertfreq",
                           lambda v: cv.whole(cv.without_note(v),
                                              "invalid email alert frequency")),
    "emailalertstatus": _set("emailalertstatus", cv.email_alert_status),
    "emailalertfrom": _set("emailalertfrom",
                           lambda v: cv.nonempty(v, "no email from address specified")),
    "cleanstop": _yes_no("cleanstop"),
    "smtp": _set("smtp", smtp_server),
    "maintenancedir": _maintenancedir,
}
