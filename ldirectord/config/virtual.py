"""A virtual section: its `virtual=` header (SPEC 2.2) and its directives' values (2.6).

The converters and handlers here are named by the rows of `directives.py`; they fill a
`VirtualDraft`, which `build.py` turns into a frozen `VirtualService` once the whole
file (and so every global value that the virtual inherits) is known.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from ldirectord.config import convert as cv
from ldirectord.config.addresses import ambiguous_message
from ldirectord.config.convert import Invalid
from ldirectord.config.draft import Context, VirtualDraft
from ldirectord.config.kernel import scheduler_error
from ldirectord.config.lexer import Line
from ldirectord.config.model import CheckType, HttpMethod, IpvsProtocol, Service
from ldirectord.config.perlre import PerlRegexError, compile_perl_regex
from ldirectord.config.reals import add_slash, parse_fallback, parse_real

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
        draft.fwmark, draft.protocol = mark, IpvsProtocol.FWM
        draft.values["service"] = Service.NONE
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


def regex(text: str) -> str:
    """`text` when it is a Perl regular expression we can run."""
    try:
        compile_perl_regex(text)
    except PerlRegexError as exc:
        raise Invalid(f"not a valid regular expression: {exc}") from None
    return text


def real(d: VirtualDraft, line: Line, ctx: Context) -> None:
    want = "real6" if d.ipv6 else "real"
    if line.key != want:
        raise Invalid(f'cannot specify "{line.key}" here.  please use "{want}" instead')
    spec = parse_real(line.value)
    if spec.receive:
        regex(spec.receive)
    d.reals.append((spec, line.lineno, cv.label(line.text)))


def fallback(d: VirtualDraft, line: Line, ctx: Context) -> None:
    want = "fallback6" if d.ipv6 else "fallback"
    if line.key != want:
        raise Invalid(f'cannot specify "{line.key}" here.  please use "{want}" instead')
    d.fallback = (parse_fallback(line.value), line.lineno, cv.label(line.text))


def checktype(d: VirtualDraft, line: Line, ctx: Context) -> None:
    v = line.value
    if v.isascii() and v.isdigit():
        d.values["checktype"] = CheckType.COMBINED
        d.negotiate_every = cv.first_number(v, _CHECKTYPE_MSG)
    elif v in CHECKTYPES:
        d.values["checktype"], d.negotiate_every = CHECKTYPES[v], 0
    else:
        raise Invalid(_CHECKTYPE_MSG)


def service(d: VirtualDraft, line: Line, ctx: Context) -> None:
    if line.value not in SERVICES:
        raise Invalid(f"service must be {_SERVICE_LIST}")
    chosen = d.values["service"] = SERVICES[line.value]
    d.service_line = line.lineno
    default = f"ldirectord@{ctx.hostname}"
    # The original fills these only when `service=` is read and only if still empty,
    # so the order of the lines matters (SPEC 2.6).
    if chosen is Service.FTP and not d.values.get("login"):
        d.values["login"] = "anonymous"
    elif chosen is Service.SIP and not d.values.get("login"):
        d.values["login"] = default
    if chosen is Service.FTP and not d.values.get("passwd"):
        d.values["passwd"] = default


def protocol(d: VirtualDraft, line: Line, ctx: Context) -> None:
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


def netmask(d: VirtualDraft, line: Line, ctx: Context) -> None:
    v = line.value
    if d.ipv6:
        d.values["netmask"] = str(cv.plain_number(
            v, "invalid netmask: a prefix length between 1 and 128 is required", 1, 128))
        return
    if v.count(".") == 3 and (ambiguous := ambiguous_message(v)) is not None:
        raise Invalid(f"invalid netmask: {ambiguous}")
    try:
        if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", v, re.ASCII):
            raise ValueError(v)
        d.values["netmask"] = str(ipaddress.IPv4Address(v))
    except ValueError:
        raise Invalid("invalid netmask: dotted quad notation is required") from None


def monitorfile(d: VirtualDraft, line: Line, ctx: Context) -> None:
    path = cv.optionally_quoted(line.value)
    error = ctx.system.appendable(path)
    if error is not None:
        raise Invalid(f"unable to open monitorfile {path}: {error}")
    d.values["monitorfile"] = path


def scheduler(v: str) -> str:
    if not _SCHEDULER.fullmatch(v):
        raise Invalid("invalid scheduler, should be only lowercase letters (a-z)")
    if (error := scheduler_error(v)) is not None:
        raise Invalid(error)
    return v


def schedflags(v: str) -> str:
    if not re.fullmatch(r"\S+", v):
        raise Invalid("schedflags must be one word, e.g. sh-port,sh-fallback")
    return v


def checkport(v: str) -> int:
    if not cv.is_whole(v):
        cv.whole(v, "invalid port", 1, 65535)  # raises, saying what is allowed
    port = cv.first_number(v, "invalid port")
    if not 0 < port < 65536:
        raise Invalid("checkport must be in range 1..65535")
    return port


def request(v: str) -> str:
    return add_slash(cv.quoted_nonempty("request", v, "no request string specified"))


def receive(v: str) -> str:
    return regex(cv.quoted_nonempty("receive", v, "invalid receive string"))


def httpmethod(v: str) -> HttpMethod:
    if v.upper() not in ("GET", "HEAD"):
        raise Invalid("httpmethod must be GET or HEAD")
    return HttpMethod(v.upper())


def virtualhost(v: str) -> str | None:
    m = re.match(r'"?([^"]*)"?', v)
    return (m.group(1) if m else v) or None


def load(v: str) -> str:
    """Accepted and ignored, as the original does once it is a word in quotes."""
    if not re.search(r"\w", cv.quoted("load", v)):
        raise Invalid("invalid string for load testing")
    return v


# ipvsadm's limit for -p (MAX_TIMEOUT, 31 days); it refuses 0 too.
MAX_PERSISTENT: Final = 86400 * 31


def persistent(v: str) -> int:
    return cv.whole(v, "invalid persistent timeout", 1, MAX_PERSISTENT,
                    out_of_range=f"1 to {MAX_PERSISTENT} seconds: ipvsadm refuses 0 and more "
                    "than 31 days")
