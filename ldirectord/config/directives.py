"""Every directive of ldirectord.cf as one row: scope, converter, default, inheritance, doc.

The handler tables, the defaults, the inheritance of global values by virtual services
(build.py) and conf/ldirectord.cf.reference (reference.py) are derived from DIRECTIVES.
A row's converter turns the value into what the model stores under the row's name; a
row whose directive does more (looks at the machine, warns, fills other values) names a
handler instead. A row's name is also the field of `VirtualService` / `Config` that
carries its value, when the model has one (tests/unit/config/test_directives.py holds
the two to each other).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ldirectord.config import convert as cv
from ldirectord.config import global_directives as gd
from ldirectord.config import virtual as vd
from ldirectord.config.convert import Invalid
from ldirectord.config.draft import (
    Context,
    GlobalDraft,
    GlobalHandler,
    VirtualDraft,
    VirtualHandler,
)
from ldirectord.config.lexer import Line
from ldirectord.config.model import ALL_DAEMON_STATES, CheckType, HttpMethod
from ldirectord.config.smtp import smtp_server

Convert = Callable[[str], object]


class Scope(Enum):
    """Where a directive may be written."""

    GLOBAL = "global"
    VIRTUAL = "virtual"
    BOTH = "global and virtual"


@dataclass(frozen=True, slots=True)
class Directive:
    """One directive; `convert` (or the handlers) say what a value means."""

    name: str
    scope: Scope
    doc: str  # for the reference file; the default is said here when it is not obvious
    example: str = ""  # the value the reference file shows ("\n" between several lines)
    default: object = None  # the value when the file does not set it
    convert: Convert | None = None  # both scopes, unless global_convert is given
    global_convert: Convert | None = None  # the global form, when it differs
    on_global: GlobalHandler | None = None  # instead of a converter
    on_virtual: VirtualHandler | None = None
    inherits: bool = False  # unset in a virtual: the global value
    warning: str = ""  # said whenever the directive is used (deprecation)
    refused: str = ""  # the directive is an error, saying this
    virtual_example: str | None = None  # the reference's per-virtual value, if other
    commented: bool = False  # the reference shows `example` (not virtual_example) commented


CHECKTIMEOUT_DEFAULT: Final = 5.0
NEGOTIATETIMEOUT_DEFAULT: Final = 30.0
TIMEOUT_MSG: Final = ("timeout directive deprecated in favour of checktimeout and "
                      "negotiatetimeout")
_CHECKCOUNT_MSG: Final = ("checkcount option is deprecated and slated for removal.  "
                          "please see 'failurecount'")


def _seconds(msg: str) -> Convert:
    return lambda v: cv.seconds(v, msg)


def _count(msg: str) -> Convert:
    return lambda v: cv.count(v, msg)


def _noted(convert: Convert) -> Convert:
    """A global number: the original read only its digits, so a trailing note passes."""
    return lambda v: convert(cv.without_note(v))


def _yes_no(name: str) -> Convert:
    return lambda v: cv.yes_no(name, v)


def _quoted(name: str, msg: str) -> Convert:
    return lambda v: cv.quoted_nonempty(name, v, msg)


def _nonempty(msg: str) -> Convert:
    return lambda v: cv.nonempty(v, msg)


def _fallbackcommand(v: str) -> str:
    return cv.shell_command(v, "invalid fallback command")


_G, _V, _B = Scope.GLOBAL, Scope.VIRTUAL, Scope.BOTH

DIRECTIVES: Final[tuple[Directive, ...]] = (
    # -- checking ---------------------------------------------------------------------
    Directive("checktimeout", _B, "Timeout (s, fractions allowed) of connect, ping and "
              "external checks. Unset: negotiatetimeout, else 5.", "5",
              convert=_seconds("invalid check timeout"),
              global_convert=_noted(_seconds("invalid check timeout value")),
              virtual_example="3"),
    Directive("negotiatetimeout", _B, "Timeout (s) of negotiate (protocol) checks. Unset: "
              "checktimeout, else 30.", "30",
              convert=_seconds("invalid negotiate timeout"),
              global_convert=_noted(_seconds("invalid negotiate timeout value")),
              virtual_example="10"),
    Directive("connecttimeout", _B, "Refused: deprecated in favour of negotiatetimeout.",
              refused="connecttimeout directive deprecated in favour of negotiatetimeout"),
    Directive("timeout", _G, "Refused: deprecated in favour of checktimeout and "
              "negotiatetimeout.", refused=TIMEOUT_MSG),
    Directive("checkinterval", _B, "Seconds between the starts of two checks of the same "
              "real server (default 10).", "10", 10.0, inherits=True,
              convert=_seconds("invalid checkinterval"),
              global_convert=_noted(_seconds("invalid check interval value")),
              virtual_example="5"),
    Directive("failurecount", _B, "Consecutive failed checks before a real server that is "
              "up is taken out (default 1).", "1", 1, inherits=True,
              convert=_count("invalid failure count"),
              global_convert=_noted(_count("invalid failure count value")),
              virtual_example="2"),
    Directive("checkcount", _B, "Deprecated: attempts of a ping check (default 1). Prefer "
              "failurecount.", "1", 1, inherits=True, commented=True,
              convert=_count("invalid check count"),
              global_convert=_noted(_count("invalid check count value")),
              warning=_CHECKCOUNT_MSG),
    # -- daemon -----------------------------------------------------------------------
    Directive("quiescent", _B, "Set a real server's weight to 0 instead of removing it when "
              "it fails (default no).", "no", False, inherits=True,
              convert=_yes_no("quiescent"), virtual_example="yes"),
    Directive("readdquiescent", _G, "Re-add a missing real server with weight 0 when it "
              "fails (default no).", "no", False, convert=_yes_no("readdquiescent")),
    Directive("cleanstop", _B, "Remove the virtual services this daemon manages when it "
              "stops (default yes).", "yes", True, inherits=True,
              convert=_yes_no("cleanstop"), virtual_example="no"),
    Directive("autoreload", _G, "Reload this file when it changes on disk (default no).",
              "no", False, convert=_yes_no("autoreload")),
    Directive("callback", _G, "Program run after the file changed on disk, with the file's "
              "path as argument.", '"/usr/local/sbin/ldirectord-sync"', commented=True,
              on_global=gd.callback),
    Directive("logfile", _G, "Log destination: a file (absolute path, must be writable) or "
              'a syslog facility. Default: "/var/log/ldirectord.log".', '"daemon"',
              "/var/log/ldirectord.log", on_global=gd.logfile),
    Directive("execute", _G, "Start another ldirectord instance for this configuration "
              "name (one line per instance).", '"other.cf"', (), commented=True,
              on_global=gd.execute),
    Directive("fork", _G, "Accepted for compatibility; every real server has its own "
              "schedule anyway (default no).", "no", False, convert=_yes_no("fork")),
    Directive("supervised", _G, "Stay in the foreground and log to stdout, for "
              "daemontools-style supervisors (default no).", "no", False,
              on_global=gd.supervised),
    # -- fallback ---------------------------------------------------------------------
    Directive("fallback", _B, "Server that takes the traffic of a virtual service when "
              "none of its real servers is up: host[:port] [gate|masq|ipip]. Without a "
              "port, the virtual's port is used. Applies to IPv4 and firewall-mark "
              "virtuals; per virtual it overrides the global one.", "127.0.0.1 gate",
              on_global=gd.fallback, on_virtual=vd.fallback,
              virtual_example="127.0.0.1:8080 masq"),
    Directive("fallback6", _B, "The same for virtual6 services.", "[::1] gate",
              on_global=gd.fallback, on_virtual=vd.fallback, virtual_example=""),
    Directive("fallbackcommand", _B, "Run when all real servers of a virtual are down "
              '("start") and when one is back ("stop"), by /bin/sh, with the arguments  '
              "start|stop  <virtual>  <protocol>. Quotes around the whole value are "
              "removed.", "/usr/local/sbin/sorry-page", inherits=True, commented=True,
              convert=_fallbackcommand, virtual_example='"/usr/local/sbin/sorry-page"'),
    # -- e-mail -----------------------------------------------------------------------
    Directive("emailalert", _B, "E-mail alerts to these comma separated recipients (quotes "
              "optional).", '"lvs-admin@example.com"', "", inherits=True,
              convert=cv.email_addresses, virtual_example='"web-team@example.com"'),
    Directive("smtp", _B, "The SMTP relay: host, host:port, [IPv6] or [IPv6]:port (port "
              "25 by default).", "127.0.0.1", inherits=True, convert=smtp_server),
    Directive("emailalertfrom", _G, "The From header of e-mail alerts.",
              "ldirectord <ldirectord@example.com>",
              convert=_nonempty("no email from address specified")),
    Directive("emailalertfreq", _B, "Seconds between reminders while a server stays down "
              "(0 = no reminders).", "3600", 0, inherits=True,
              convert=lambda v: cv.whole(v, "invalid email alert frequency"),
              global_convert=_noted(lambda v: cv.whole(v, "invalid email alert frequency")),
              virtual_example="600"),
    Directive("emailalertstatus", _B, "The daemon states in which alerts are sent: all, "
              "none, or a list of starting, running, stopping, reloading.",
              "starting,running,stopping", ALL_DAEMON_STATES, inherits=True,
              convert=cv.email_alert_status, virtual_example="all"),
    Directive("maintenancedir", _G, 'Directory where a file named after a real server '
              '(e.g. "192.168.10.2:80" or "192.168.10.2") forces that server out of '
              "service.", "/var/lib/ldirectord/maintenance", commented=True,
              on_global=gd.maintenancedir),
    # -- virtual services -------------------------------------------------------------
    Directive("real", _V, "A real server: address[->last address][:port] gate|masq|ipip "
              '[weight] ["request", "receive"] [l:N] [u:N]. A range 192.168.10.2->'
              "192.168.10.3 (or 192.168.10.[2-3]) gives one real per address. Per-real "
              "request and receive override the virtual's ones for this real only; l:N "
              "and u:N are the lower and upper connection thresholds (ipvsadm -y / -x).",
              "192.168.10.2->192.168.10.3:80 masq 2\n"
              '192.168.10.4:80 masq 1 "status.html", "running" l:10 u:100',
              on_virtual=vd.real),
    Directive("real6", _V, "A real server of a virtual6 section: its address in brackets.",
              on_virtual=vd.real),
    Directive("checktype", _V, "connect | negotiate (default) | ping | external | "
              "external-perl | on | off | N (N: a negotiate check, then N connect checks, "
              "and again).", "negotiate", CheckType.NEGOTIATE, on_virtual=vd.checktype),
    Directive("service", _V, "Which protocol check \"negotiate\" runs; default guessed "
              "from the port (80: http). dns ftp http https http_proxy imap imaps ldap "
              "ldaps mysql nntp none pop pops radius pgsql simpletcp sip smtp submission",
              "http", on_virtual=vd.service),
    Directive("request", _V, 'What the check asks for (default "/").', '"/healthz"', "/",
              convert=vd.request),
    Directive("receive", _V, "What the answer must match: a Perl regular expression.",
              '"^OK"', "", convert=vd.receive),
    Directive("httpmethod", _V, "GET (default) or HEAD.", "GET", HttpMethod.GET,
              convert=vd.httpmethod),
    Directive("virtualhost", _V, "The Host header of http checks (default: the real's "
              "address).", "www.example.com", convert=vd.virtualhost),
    Directive("checkport", _V, "Probe this port instead of each real's own port.", "80",
              convert=vd.checkport),
    Directive("checkcommand", _V, "The program of an external check, run with  <virtual "
              "ip> <port> <real ip> <port>  (no shell; exit status 0 means up).",
              '"/usr/local/libexec/check-app"', "/bin/true", commented=True,
              convert=lambda v: cv.nonempty(cv.optionally_quoted(v),
                                            "invalid check command")),
    Directive("login", _V, "User name of ftp, imap, pop, mysql, pgsql, ldap, radius and "
              'sip checks. service=ftp fills an empty one with "anonymous".',
              '"monitor"', "", commented=True,
              convert=_quoted("login", "invalid login string")),
    Directive("passwd", _V, "Its password. service=ftp fills an empty one with "
              "ldirectord@<host name>.", '"secret"', "", commented=True,
              convert=_quoted("passwd", "invalid password")),
    Directive("database", _V, "The database of mysql and pgsql checks.", '"shop"', "",
              commented=True, convert=_quoted("database", "invalid database")),
    Directive("secret", _V, "The shared secret of radius checks.", '"shared-secret"', "",
              commented=True, convert=_quoted("secret", "invalid secret")),
    Directive("scheduler", _V, "IPVS scheduler (rr wrr lc wlc lblc lblcr dh sh sed nq fo "
              "ovf mh twos; default wrr).", "wlc", "wrr", convert=vd.scheduler),
    Directive("persistent", _V, "Persistence in seconds (1 to 2678400).", "300",
              convert=vd.persistent),
    Directive("netmask", _V, "The persistence netmask (virtual6: a prefix length).",
              "255.255.255.0", on_virtual=vd.netmask),
    Directive("schedflags", _V, "Scheduler flags (ipvsadm -b): sh-port, sh-fallback need "
              "scheduler=sh, mh-port, mh-fallback need scheduler=mh.", "sh-port",
              commented=True, convert=vd.schedflags),
    Directive("protocol", _V, "tcp (default; udp when the port is written 53 or "
              '"domain"), udp, or fwm for a firewall-mark service.', "tcp",
              on_virtual=vd.protocol),
    Directive("ops", _V, "One-packet scheduling (UDP only; default no).", "no", False,
              commented=True, convert=_yes_no("ops")),
    Directive("monitorfile", _V, "Appended to on every check result (the file must be "
              "writable).", '"/var/log/ldirectord-web.monitor"', commented=True,
              on_virtual=vd.monitorfile),
    Directive("servicename", _V, "Used in e-mail alerts.", "Web shop",
              convert=_nonempty("no service name specified")),
    Directive("comment", _V, "Used in e-mail alerts.", "Front-end servers in rack 4",
              convert=_nonempty("no comment specified")),
    Directive("load", _V, "Accepted and ignored (a leftover of the original).", '"none"',
              commented=True, convert=vd.load),
)

BY_NAME: Final = {row.name: row for row in DIRECTIVES}
GLOBAL_ONLY: Final = frozenset(r.name for r in DIRECTIVES if r.scope is Scope.GLOBAL)


def _global_handler(row: Directive) -> GlobalHandler:
    if row.on_global is not None:
        return row.on_global
    convert = row.global_convert or row.convert

    def handler(g: GlobalDraft, line: Line, ctx: Context) -> None:
        if row.refused:
            raise Invalid(row.refused)
        assert convert is not None
        g.values[row.name] = convert(line.value)
        if row.warning:
            ctx.warn(row.warning)
    return handler


def _virtual_handler(row: Directive) -> VirtualHandler:
    if row.on_virtual is not None:
        return row.on_virtual

    def handler(d: VirtualDraft, line: Line, ctx: Context) -> None:
        if row.refused:
            raise Invalid(row.refused)
        assert row.convert is not None
        d.values[row.name] = row.convert(line.value)
        if row.warning:
            ctx.warn(row.warning)
    return handler


GLOBAL_HANDLERS: Final[dict[str, GlobalHandler]] = {
    r.name: _global_handler(r) for r in DIRECTIVES if r.scope is not Scope.VIRTUAL}
VIRTUAL_HANDLERS: Final[dict[str, VirtualHandler]] = {
    r.name: _virtual_handler(r) for r in DIRECTIVES if r.scope is not Scope.GLOBAL}
