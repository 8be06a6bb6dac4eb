"""The IPVS table as text exactly as `ipvsadm -Ln` prints it, order and widths included."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ldirectord.ipvs.model import DestAttrs, DestKey, IpvsProtocol, ServiceEntry, ServiceKey, Table
from ldirectord.ipvs.rules import sched_flag_order

PROC_IP_VS = Path("/proc/net/ip_vs")
DEFAULT_VERSION_LINE = "IP Virtual Server version 1.2.1 (size=4096)"
_HEADER = ("Prot LocalAddress:Port Scheduler Flags\n"
           "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
_AF_INET, _AF_INET6 = 2, 10
_PROTO_NUMBER = {IpvsProtocol.TCP: 6, IpvsProtocol.UDP: 17, IpvsProtocol.FWM: 0}

T = TypeVar("T")


def version_line(proc: Path = PROC_IP_VS) -> str:
    """`IP Virtual Server version x.y.z (size=N)`: the kernel's, or the usual one."""
    try:
        with proc.open() as f:
            first = f.readline().strip()
    except OSError:
        return DEFAULT_VERSION_LINE
    return first if first.startswith("IP Virtual Server version") else DEFAULT_VERSION_LINE


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
    """The table as `ipvsadm -Ln` prints it, under `version` (see `version_line`)."""
    out = [version + "\n", _HEADER]
    keys = glibc_msort(list(table), _cmp_services)
    for key in keys:
        entry = table[key]
        out.append(_service_line(key, entry))
        out.extend(_dest_line(dkey, entry.dests[dkey])
                   for dkey in glibc_msort(list(entry.dests), _cmp_dests))
    return "".join(out)

