"""`real=`/`real6=` and `fallback=`/`fallback6=` values: text -> specs -> resolved servers.

Parsing (text -> RealSpec/FallbackSpec) is pure; resolution uses a `System` and happens
once the section's protocol is known, as in the original (SPEC 2.3, 2.4). Deliberate
differences (SPEC Part A 5): the pattern is anchored, `a.b.c.[x-y]` is a range, per-real
request/receive work with or without a leading `/`, thresholds are read in either order
and in the `"<l:N>" "<u:N>"` form.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ldirectord.config.addresses import ambiguous_message
from ldirectord.config.convert import Invalid
from ldirectord.config.model import Forwarding, IpvsProtocol, RealServer, SourcePos
from ldirectord.config.resolve import System, resolve_port

_ADDR = r"\d+\.\d+\.\d+\.\d+|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+"
_REAL = re.compile(
    rf"(?:(?P<net>\d+\.\d+\.\d+)\.\[(?P<lo>\d+)-(?P<hi>\d+)\]"
    rf"|(?P<first>{_ADDR})(?:->(?P<last>{_ADDR}))?)"
    r"(?::(?P<port>[A-Za-z0-9_-]+))?(?P<rest>.*)",
    re.DOTALL | re.ASCII,
)
_FORWARD = re.compile(r"\s+(\w+)(.*)", re.DOTALL)
_WEIGHT = re.compile(r"\s+(\d+)(?=\s|$)(.*)", re.DOTALL | re.ASCII)
_REQ_RECV = re.compile(r'\s+"(.*)"[, ]\s*"(.*)"(.*)', re.DOTALL)
# Searched, not matched with a leading `(.*)`: that would backtrack quadratically.
_THRESHOLD = re.compile(r'\s(?:"<([lu]):(\d+)>"|([lu]):(\d+))\Z', re.ASCII)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOSTPORT = re.compile(
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:\[\]]+))(?::(?P<port>[A-Za-z0-9_-]+))?"
)
FORWARDINGS: Final = {f.value: f for f in Forwarding}
MAX_RANGE: Final = 65536
# Real servers one file may define in all (ranges count each address): far above any real
# deployment, and small enough that a reload stays quick and small.
MAX_REALS: Final = 100_000
MAX_WEIGHT: Final = 65535
MAX_THRESHOLD: Final = 2**31 - 1


def add_slash(request: str) -> str:
    """The original prefixes `/` to a request that lacks one; URLs are kept as written."""
    if request.startswith("/") or _URL.match(request):
        return request
    return "/" + request


@dataclass(frozen=True, slots=True)
class RealSpec:
    """A real line as written: names not yet resolved."""

    first: str
    last: str | None  # end of an `a->b` range
    octet_range: tuple[str, int, int] | None  # `a.b.c.[x-y]`
    port: str | None
    forwarding: Forwarding
    weight: int
    request: str | None
    receive: str | None
    upper: int
    lower: int


def _small_int(digits: str, what: str, high: int) -> int:
    digits = digits.lstrip("0") or "0"
    if len(digits) > 10 or int(digits) > high:
        raise Invalid(f"{what} {digits} is out of range (0..{high})")
    return int(digits)


def _thresholds(rest: str) -> tuple[str, int | None, int | None]:
    """Cut `l:N`/`u:N` (or `"<l:N>"`/`"<u:N>"`) tokens off the end of `rest`."""
    lower: int | None = None
    upper: int | None = None
    while m := _THRESHOLD.search(rest):
        kind = m.group(1) or m.group(3)
        value = _small_int(m.group(2) or m.group(4), f"threshold {kind}:", MAX_THRESHOLD)
        if kind == "l":
            if lower is not None:
                raise Invalid("lower threshold (l:N) given twice")
            lower = value
        else:
            if upper is not None:
                raise Invalid("upper threshold (u:N) given twice")
            upper = value
        rest = rest[: m.start()].rstrip()
    return rest, lower, upper


def parse_real(value: str) -> RealSpec:
    """`<addr>[-><addr2>][:<port>] gate|masq|ipip [<weight>] ["req", "recv"] [l:N] [u:N]`."""
    m = _REAL.fullmatch(value)
    if not m:
        raise Invalid("invalid address for real server (wrong format)")
    rest = m.group("rest")
    if rest and not rest[0].isspace():
        raise Invalid("invalid address for real server (wrong format)")
    octets = None
    if m.group("net"):
        for end in ("lo", "hi"):
            text = f"{m.group('net')}.{m.group(end)}"
            if (ambiguous := ambiguous_message(text)) is not None:
                raise Invalid(f"invalid address ({text}) for real server: {ambiguous}")
        lo, hi = (_small_int(m.group(k), "address octet", 255) for k in ("lo", "hi"))
        octets = (m.group("net"), lo, hi)
    fwd = _FORWARD.fullmatch(rest)
    if not fwd:
        raise Invalid("forward method must be gate, masq or ipip (none given)")
    if fwd.group(1) not in FORWARDINGS:
        raise Invalid(f'forward method must be gate, masq or ipip, not "{fwd.group(1)}"')
    rest, lower, upper = _thresholds(fwd.group(2).rstrip())
    weight = 1
    if w := _WEIGHT.match(rest):
        weight = _small_int(w.group(1), "weight", MAX_WEIGHT)
        rest = w.group(2)
    request = receive = None
    if rr := _REQ_RECV.fullmatch(rest):
        request, receive, rest = add_slash(rr.group(1)), rr.group(2), rr.group(3)
    if rest.strip():
        raise Invalid(f'Invalid real server line, around "{rest.strip()}"')
    return RealSpec(
        first=m.group("first") or "",
        last=m.group("last"),
        octet_range=octets,
        port=m.group("port"),
        forwarding=FORWARDINGS[fwd.group(1)],
        weight=weight,
        request=request,
        receive=receive,
        upper=upper or 0,
        lower=lower or 0,
    )


def _strip_brackets(name: str) -> str:
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def _host(system: System, name: str, ipv6: bool, what: str) -> str:
    bare = _strip_brackets(name)
    if not ipv6 and name.startswith("["):
        raise Invalid(f"invalid address ({name}) for {what}: an IPv6 address needs real6=")
    if (ambiguous := ambiguous_message(bare)) is not None:
        raise Invalid(f"invalid address ({name}) for {what}: {ambiguous}")
    addr = system.host(bare, ipv6)
    if addr is None:
        family = "IPv6" if ipv6 else "IPv4"
        raise Invalid(f"invalid address ({name}) for {what}: not an {family} address "
                      "or resolvable host name")
    return addr


class Addresses:
    """The addresses of one real line, counted without being listed (`len` is cheap)."""

    __slots__ = ("_count", "_first", "_single")

    def __init__(self, first: int, count: int, single: str | None = None) -> None:
        self._first, self._count, self._single = first, count, single

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        if self._single is not None:
            yield self._single
            return
        for i in range(self._first, self._first + self._count):
            yield str(ipaddress.IPv4Address(i))


def real_addresses(spec: RealSpec, system: System, ipv6: bool) -> Addresses:
    """The (possibly ranged) addresses of `spec`, resolved but not expanded."""
    if spec.octet_range is not None:
        net, lo, hi = spec.octet_range
        if ipv6:
            raise Invalid("Address range for IPv6 is not supported yet")
        first = _host(system, f"{net}.{lo}", False, "real server")
        last = _host(system, f"{net}.{hi}", False, "real server (end of range)")
    else:
        first = _host(system, spec.first, ipv6, "real server")
        if spec.last is None:
            return Addresses(0, 1, first)
        last = _host(system, spec.last, ipv6, "real server (end of range)")
        if ipv6:
            raise Invalid("Address range for IPv6 is not supported yet")
    a, b = int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last))
    if a > b:
        raise Invalid(f"Invalid Range: {first}-{last}: the first address must not be "
                      "greater than the last")
    if b - a >= MAX_RANGE:
        raise Invalid(f"range {first}-{last} has more than {MAX_RANGE} addresses")
    return Addresses(a, b - a + 1)


def real_port(spec: RealSpec, system: System) -> int:
    if spec.port is None:
        return 0
    resolved = resolve_port(system, spec.port, None)
    if resolved is None:
        raise Invalid(f"invalid port ({spec.port}) for real server (could not resolve port)")
    return resolved


def expand_real(spec: RealSpec, addresses: Addresses, port: int, ipv6: bool,
                where: SourcePos) -> list[RealServer]:
    """One RealServer per address (the caller has checked the count against MAX_REALS)."""
    return [
        RealServer(host=addr, port=port, forwarding=spec.forwarding, weight=spec.weight,
                   request=spec.request, receive=spec.receive,
                   upper_threshold=spec.upper, lower_threshold=spec.lower, ipv6=ipv6,
                   where=where)
        for addr in addresses
    ]


@dataclass(frozen=True, slots=True)
class FallbackSpec:
    """A fallback line as written."""

    host: str
    port: str | None
    forwarding: Forwarding


def parse_fallback(value: str) -> FallbackSpec:
    """`<host>[:<port>] [gate|masq|ipip]`."""
    words = value.split()
    if not 1 <= len(words) <= 2:
        raise Invalid(f"invalid fallback server: {value}")
    m = _HOSTPORT.fullmatch(words[0])
    if not m:
        raise Invalid(f"invalid fallback server: {value}")
    forwarding = Forwarding.GATE
    if len(words) == 2:
        if words[1] not in FORWARDINGS:
            raise Invalid("forward method must be gate, masq or ipip")
        forwarding = FORWARDINGS[words[1]]
    host = f"[{m.group('v6')}]" if m.group("v6") else m.group("host")
    return FallbackSpec(host, m.group("port"), forwarding)


def resolve_fallback_host(spec: FallbackSpec, system: System, ipv6: bool) -> str:
    if (ambiguous := ambiguous_message(_strip_brackets(spec.host))) is not None:
        raise Invalid(f"invalid address ({spec.host}) for fallback server: {ambiguous}")
    addr = system.host(_strip_brackets(spec.host), ipv6)
    if addr is None:
        family = "IPv6" if ipv6 else "IPv4"
        raise Invalid(f"invalid {family} address or could not resolve for fallback server: "
                      f"{spec.host}")
    return addr


def resolve_fallback_port(spec: FallbackSpec, system: System, protocol: IpvsProtocol,
                          default: int) -> int:
    if spec.port is None:
        return default
    # fwmark services have no protocol of their own for a service-name lookup: use tcp.
    proto = IpvsProtocol.TCP if protocol is IpvsProtocol.FWM else protocol
    port = resolve_port(system, spec.port, proto)
    if port is None:
        raise Invalid(f"invalid port for fallback server: {spec.port}")
    return port
