"""The `ipvsadm -Ln` text: a table printed exactly as ipvsadm prints it, and read back.

`format_table` is `--ipvs-dump`'s output, order and widths included; `parse_tables` is
how the ipvsadm backend reads the table (`Local` forwarding is understood).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ldirectord.ipvs.model import (
    DestAttrs,
    DestKey,
    IpvsProtocol,
    Method,
    ServiceAttrs,
    ServiceEntry,
    ServiceKey,
    Table,
)
from ldirectord.ipvs.rules import sched_flag_order

_HEADER = ("Prot LocalAddress:Port Scheduler Flags\n"
           "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
_AF_INET, _AF_INET6 = 2, 10
_PROTO_NUMBER = {IpvsProtocol.TCP: 6, IpvsProtocol.UDP: 17, IpvsProtocol.FWM: 0}

T = TypeVar("T")


# ipvsadm sorts with qsort() and comparators that subtract unsigned 32-bit words into an
# int, so addresses more than 2**31 apart compare "backwards" (192.168.x before 10.x), and
# glibc's qsort is a merge sort. Both are copied so the order matches byte for byte.

def _c_int(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _words(address: str) -> tuple[int, ...]:
    packed = ipaddress.ip_address(address).packed
    return tuple(int.from_bytes(packed[i:i + 4], "big") for i in range(0, len(packed), 4))


def _cmp_addr(a: str, b: str) -> int:
    for x, y in zip(_words(a), _words(b), strict=False):
        r = _c_int(x - y)
        if r:
            return r
    return 0


def _af(address: str | None, ipv6: bool) -> int:
    if address is None:
        return _AF_INET6 if ipv6 else _AF_INET
    return _AF_INET6 if ":" in address else _AF_INET


def _cmp_services(a: ServiceKey, b: ServiceKey) -> int:
    r = _c_int((a.fwmark or 0) - (b.fwmark or 0))
    if r:
        return r
    r = _af(a.address, a.ipv6) - _af(b.address, b.ipv6)
    if r:
        return r
    r = _PROTO_NUMBER[a.protocol] - _PROTO_NUMBER[b.protocol]
    if r or a.address is None or b.address is None:
        return r
    return _cmp_addr(a.address, b.address) or a.port - b.port


def _cmp_dests(a: DestKey, b: DestKey) -> int:
    r = _af(a.address, False) - _af(b.address, False)
    return r or _cmp_addr(a.address, b.address) or a.port - b.port


def glibc_msort(items: Sequence[T], cmp: Callable[[T, T], int]) -> list[T]:
    """glibc's qsort (msort_with_tmp): halves, sorted recursively, merged left-first on <= 0."""
    if len(items) <= 1:
        return list(items)
    n1 = len(items) // 2
    left, right = glibc_msort(items[:n1], cmp), glibc_msort(items[n1:], cmp)
    out: list[T] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _service_line(key: ServiceKey, entry: ServiceEntry) -> str:
    a = entry.attrs
    line = f"{key} {a.scheduler}"
    if a.schedflags:
        order = sched_flag_order(a.scheduler)
        line += " (" + ",".join(n for n in order if n in a.schedflags) + ")"
    if a.persistent is not None:
        line += f" persistent {a.persistent}"
        if a.netmask is not None:
            line += f" mask {a.netmask}"
    if a.ops:
        line += " ops"
    return line + "\n"


def _dest_line(key: DestKey, d: DestAttrs) -> str:
    return (f"  -> {key!s:<28} {d.method.label:<7} {d.weight:<6} {d.active_conns:<10} "
            f"{d.inactive_conns:<10}\n")


def format_table(table: Table, version: str) -> str:
    """The table as `ipvsadm -Ln` prints it, under `version` (the kernel's first line)."""
    out = [version + "\n", _HEADER]
    keys = glibc_msort(list(table), _cmp_services)
    for key in keys:
        entry = table[key]
        out.append(_service_line(key, entry))
        out.extend(_dest_line(dkey, entry.dests[dkey])
                   for dkey in glibc_msort(list(entry.dests), _cmp_dests))
    return "".join(out)


_FWD_WORD = {m.label: m for m in Method}

_SERVICE_RE = re.compile(
    r"^(?P<proto>TCP|UDP|FWM|SCTP)  (?P<where>\S+)(?P<v6> IPv6)? (?P<sched>\S+)"
    r"(?: \((?P<flags>[^)]*)\))?(?: persistent (?P<timeout>\d+)(?: mask (?P<mask>\S+))?"
    r"(?: pe \S+)?)?(?P<ops> ops)?\s*$")
_DEST_RE = re.compile(r"^  -> (?P<addr>\S+)\s+(?P<a>\S+)\s+(?P<b>\d+)\s+(?P<c>\d+)\s+(?P<d>\d+)")


def _addr_port(text: str) -> tuple[str, int, bool]:
    host, _, port = text.rpartition(":")
    if host.startswith("["):
        return host[1:-1], int(port), True
    return host, int(port), False


def _service_key(match: re.Match[str]) -> ServiceKey:
    if match["proto"] == "FWM":
        return ServiceKey(IpvsProtocol.FWM, None, 0, fwmark=int(match["where"]),
                          ipv6=bool(match["v6"]))
    host, port, ipv6 = _addr_port(match["where"])
    return ServiceKey(IpvsProtocol(match["proto"].lower()), host, port, ipv6=ipv6)


@dataclass(frozen=True, slots=True)
class _Listing:
    services: dict[ServiceKey, ServiceAttrs]
    dests: dict[ServiceKey, dict[DestKey, tuple[str, int, int, int]]]


def _parse_listing(text: str) -> _Listing:
    services: dict[ServiceKey, ServiceAttrs] = {}
    dests: dict[ServiceKey, dict[DestKey, tuple[str, int, int, int]]] = {}
    current: ServiceKey | None = None
    for line in text.splitlines():
        if (m := _SERVICE_RE.match(line)) is not None:
            if m["proto"] == "SCTP":  # never ours: skipped with its reals
                current = None
                continue
            current = _service_key(m)
            flags = frozenset(f for f in (m["flags"] or "").split(",") if f)
            services[current] = ServiceAttrs(
                scheduler=m["sched"],
                persistent=int(m["timeout"]) if m["timeout"] is not None else None,
                netmask=m["mask"], ops=bool(m["ops"]), schedflags=flags)
            dests[current] = {}
        elif (d := _DEST_RE.match(line)) is not None and current is not None:
            host, port, _ = _addr_port(d["addr"])
            dests[current][DestKey(host, port)] = (d["a"], int(d["b"]), int(d["c"]),
                                                   int(d["d"]))
    return _Listing(services, dests)


def parse_tables(listing: str, thresholds: str) -> dict[ServiceKey, ServiceEntry]:
    """The table from `ipvsadm -Ln` and `ipvsadm -Ln --thresholds` output."""
    main, limits = _parse_listing(listing), _parse_listing(thresholds)
    table: dict[ServiceKey, ServiceEntry] = {}
    for key, attrs in main.services.items():
        entries: dict[DestKey, DestAttrs] = {}
        for dkey, (fwd, weight, active, inactive) in main.dests[key].items():
            upper, lower = 0, 0
            if (limit := limits.dests.get(key, {}).get(dkey)) is not None:
                upper, lower = int(limit[0]), limit[1]
            entries[dkey] = DestAttrs(_FWD_WORD.get(fwd, Method.ROUTE), weight, upper, lower,
                                      active_conns=active, inactive_conns=inactive)
        table[key] = ServiceEntry(attrs, entries)
    return table
