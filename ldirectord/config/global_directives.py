"""The global directives (SPEC 2.5) that do more than convert their value: their handlers.

The rows of `directives.py` name them; every other global directive is its row's
converter alone.
"""

from __future__ import annotations

from typing import Final

from ldirectord.config import convert as cv
from ldirectord.config.convert import Invalid
from ldirectord.config.draft import Context, GlobalDraft, GlobalFallback
from ldirectord.config.lexer import Line
from ldirectord.config.model import IpvsProtocol, SourcePos
from ldirectord.config.reals import parse_fallback, resolve_fallback_host
from ldirectord.config.resolve import resolve_port

SYSLOG_FACILITIES: Final = frozenset({
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
    "user", "uucp", *(f"local{i}" for i in range(8)),
})


def fallback(g: GlobalDraft, line: Line, ctx: Context) -> None:
    ipv6 = line.key == "fallback6"
    spec = parse_fallback(line.value)
    host = resolve_fallback_host(spec, ctx.system, ipv6)
    # The original insists that a port name resolves for tcp and for udp; a name known
    # for one protocol only is accepted here and checked against each virtual's protocol.
    if spec.port is not None and all(
            resolve_port(ctx.system, spec.port, proto) is None
            for proto in (IpvsProtocol.TCP, IpvsProtocol.UDP)):
        raise Invalid(f"invalid port for fallback server: {spec.port}")
    g.fallbacks[ipv6] = GlobalFallback(spec, host, ipv6, SourcePos(ctx.path, line.lineno))


def callback(g: GlobalDraft, line: Line, ctx: Context) -> None:
    value = g.values["callback"] = cv.quoted("callback", line.value) or None
    if value is None:
        ctx.warn("empty callback: no callback will run")


def logfile(g: GlobalDraft, line: Line, ctx: Context) -> None:
    target = cv.quoted_nonempty("logfile", line.value,
                                "no log file or syslog facility specified")
    if target.startswith("/"):
        if ctx.system.appendable(target) is not None:
            raise Invalid(f"unable to open logfile: {target}")
    elif target not in SYSLOG_FACILITIES:
        ctx.warn(f'"{target}" is not a known syslog facility (a log file needs an '
                 "absolute path)")
    g.values["logfile"] = target


def execute(g: GlobalDraft, line: Line, ctx: Context) -> None:
    # The original hands the value to a shell, which removes enclosing quotes; the
    # manual writes it quoted. We run it without a shell, so the quotes go here.
    name = cv.nonempty(cv.optionally_quoted(line.value),
                       "no configuration name specified for execute")
    before = g.values.get("execute", ())
    assert isinstance(before, tuple)
    g.values["execute"] = tuple(dict.fromkeys((*before, name)))  # each name once


def supervised(g: GlobalDraft, line: Line, ctx: Context) -> None:
    if line.text.rstrip() == "supervised":
        g.values["supervised"] = True
        ctx.warn("please update your config not to use a bare supervised directive")
        return
    g.values["supervised"] = cv.yes_no("supervised", line.value)


def maintenancedir(g: GlobalDraft, line: Line, ctx: Context) -> None:
    path = g.values["maintenancedir"] = cv.nonempty(line.value,
                                                    "maintenance directory not specified")
    if not ctx.system.is_dir(path):
        ctx.warn("maintenance directory does not exist")
