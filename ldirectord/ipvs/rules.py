"""The kernel's (and ipvsadm's) rules for IPVS values, shared by every backend.

Each backend checks an operation with the same functions before it acts (the memory
table directly, the others through `backend.check_op`), so the memory table refuses
exactly what the kernel or ipvsadm refuses, with the same exception type:

    what                                         kernel / ipvsadm says     we raise
    unknown scheduler                            ENOENT                    NotFound
    one-packet scheduling on a TCP service       ipvsadm refuses (exit 2)  InvalidArgument
    sh-* flag without sh, mh-* without mh        ipvsadm refuses (exit 2)  InvalidArgument
    IPv6 persistence prefix outside 1..128       EINVAL                    InvalidArgument
    negative weight, lower > upper threshold     ERANGE                    InvalidArgument
    IPv4 real in an IPv6 service (or the         EINVAL                    InvalidArgument
      reverse) unless forwarding is ipip

An errno the kernel answers with (over netlink, or in ipvsadm's words) is one exception
type whichever backend met it (`refusal`).
Values are also brought to the one form the kernel reports back (`check_service` returns
it): a netmask of all ones is "no mask", a netmask without persistence is dropped, and
scheduler flags are named as `ipvsadm` names them for the service's scheduler.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Mapping
from dataclasses import replace

from ldirectord.errors import (
    AlreadyExists,
    InvalidArgument,
    IPVSError,
    IPVSUnavailable,
    NotFound,
    PermissionDenied,
)
from ldirectord.ipvs.model import (
    DestAttrs,
    DestKey,
    IpvsProtocol,
    Method,
    Op,
    ServiceAttrs,
    ServiceKey,
)

SCHEDULERS = frozenset(
    {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}
)

# IP_VS_SVC_F_* from include/uapi/linux/ip_vs.h
SVC_F_PERSISTENT = 0x0001
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008
SVC_F_SCHED2 = 0x0010
SVC_F_SCHED3 = 0x0020
SCHED_FLAG_MASK = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3

# ipvsadm names the three scheduler flag bits after the scheduler that uses them.
_GENERIC_FLAGS = (("flag-1", SVC_F_SCHED1), ("flag-2", SVC_F_SCHED2), ("flag-3", SVC_F_SCHED3))
_NAMED_FLAGS = {
    "sh": (("sh-fallback", SVC_F_SCHED1), ("sh-port", SVC_F_SCHED2), ("flag-3", SVC_F_SCHED3)),
    "mh": (("mh-fallback", SVC_F_SCHED1), ("mh-port", SVC_F_SCHED2), ("flag-3", SVC_F_SCHED3)),
}

IPV6_FULL_PREFIX = 128
MAX_WEIGHT = 0x7FFFFFFF
MAX_THRESHOLD = 0xFFFFFFFF


def sched_flag_names(scheduler: str, bits: int) -> frozenset[str]:
    """The flag names `ipvsadm -Ln` prints for these IP_VS_SVC_F_SCHED* bits."""
    table = _NAMED_FLAGS.get(scheduler, _GENERIC_FLAGS)
    return frozenset(name for name, bit in table if bits & bit)


def sched_flag_order(scheduler: str) -> tuple[str, ...]:
    """Flag names in the order ipvsadm prints them for this scheduler."""
    return tuple(name for name, _ in _NAMED_FLAGS.get(scheduler, _GENERIC_FLAGS))


def sched_flag_bits(scheduler: str, names: frozenset[str], op: Op | None = None) -> int:
    """The IP_VS_SVC_F_SCHED* bits for flag names, refusing names ipvsadm would refuse."""
    bits = 0
    for name in names:
        bit = dict(_GENERIC_FLAGS).get(name)
        if bit is None:
            prefix = name.split("-", 1)[0]
            bit = dict(_NAMED_FLAGS.get(prefix, ())).get(name)
            if bit is None:
                raise InvalidArgument(f"invalid scheduler flag name {name!r}", op)
            if prefix != scheduler:
                raise InvalidArgument(f"incompatible scheduler flag {name!r}", op)
        bits |= bit
    return bits


def is_ipv6(address: str) -> bool:
    return ":" in address


def full_netmask(ipv6: bool) -> str:
    """The persistence netmask of one client address: what the kernel stores when none is
    given, so a full mask (255.255.255.255, prefix 128) means no netmask."""
    return "128" if ipv6 else "255.255.255.255"


def read_back_netmask(ipv6: bool, netmask: str | None, persistent: int | None) -> str | None:
    """The persistence netmask as the kernel reads it back: none without persistence, none
    for the full mask."""
    if persistent is None or netmask == full_netmask(ipv6):
        return None
    return netmask


def netmask_value(key: ServiceKey, attrs: ServiceAttrs, op: Op | None = None) -> int:
    """The netmask as the kernel stores it: an IPv4 mask as an int, or an IPv6 prefix length."""
    netmask = full_netmask(key.ipv6) if attrs.netmask is None else attrs.netmask
    if key.ipv6:
        if not netmask.isdigit() or not 1 <= int(netmask) <= IPV6_FULL_PREFIX:
            raise InvalidArgument(f"invalid IPv6 netmask {netmask!r}", op)
        return int(netmask)
    try:
        return int(ipaddress.IPv4Address(netmask))
    except ValueError:
        raise InvalidArgument(f"invalid netmask {netmask!r}", op) from None


def netmask_text(ipv6: bool, value: int) -> str | None:
    """The model's netmask for a kernel value: None for a full mask."""
    text = str(value) if ipv6 else str(ipaddress.IPv4Address(value))
    return None if text == full_netmask(ipv6) else text


def check_service(key: ServiceKey, attrs: ServiceAttrs, op: Op | None = None) -> ServiceAttrs:
    """Refuse what ipvsadm or the kernel refuses; return the attributes as they read back.

    The scheduler is left to the kernel (see `check_scheduler`): kernels differ in what
    they have.
    """
    if (key.fwmark is None) != (key.address is not None) or (
            (key.fwmark is None) == (key.protocol is IpvsProtocol.FWM)):
        raise InvalidArgument("a service has either an address or a firewall mark", op)
    if key.fwmark is not None and not 0 < key.fwmark <= 0xFFFFFFFF:
        raise InvalidArgument(f"invalid firewall mark {key.fwmark}", op)
    if key.address is not None:
        if is_ipv6(key.address) != key.ipv6:
            raise InvalidArgument(f"address {key.address} does not match the family", op)
        if not 0 <= key.port <= 0xFFFF:
            raise InvalidArgument(f"invalid port {key.port}", op)
    if attrs.ops and key.protocol is not IpvsProtocol.UDP and key.fwmark is None:
        raise InvalidArgument("One-Packet Scheduling is only for UDP virtual services", op)
    if attrs.persistent is not None and not 0 <= attrs.persistent <= 0xFFFFFFFF:
        raise InvalidArgument(f"invalid persistent timeout {attrs.persistent}", op)
    bits = sched_flag_bits(attrs.scheduler, attrs.schedflags, op)
    mask = netmask_value(key, attrs, op)
    netmask = read_back_netmask(key.ipv6, netmask_text(key.ipv6, mask), attrs.persistent)
    return replace(attrs, netmask=netmask,
                   schedflags=sched_flag_names(attrs.scheduler, bits))


def check_scheduler(attrs: ServiceAttrs, op: Op | None = None) -> None:
    """Refuse a scheduler this kernel has no module for (the memory table's kernel)."""
    if attrs.scheduler not in SCHEDULERS:
        raise NotFound(f"Scheduler or persistence engine not found: {attrs.scheduler}", op)


def check_dest(key: ServiceKey, dest: DestKey, attrs: DestAttrs, op: Op | None = None) -> None:
    """Refuse a destination the kernel would refuse (ERANGE, mixed families)."""
    try:
        ipaddress.ip_address(dest.address)
    except ValueError:
        raise InvalidArgument(f"invalid real server address {dest.address!r}", op) from None
    if not 0 <= dest.port <= 0xFFFF:
        raise InvalidArgument(f"invalid port {dest.port}", op)
    if not 0 <= attrs.weight <= MAX_WEIGHT:
        raise InvalidArgument(f"illegal weight {attrs.weight}", op)
    if not (0 <= attrs.lower_threshold <= MAX_THRESHOLD
            and 0 <= attrs.upper_threshold <= MAX_THRESHOLD):
        raise InvalidArgument("illegal threshold", op)
    if attrs.lower_threshold > attrs.upper_threshold:
        raise InvalidArgument("Numerical result out of range: lower threshold above upper", op)
    if is_ipv6(dest.address) != key.ipv6 and attrs.method is not Method.TUNNEL:
        raise InvalidArgument(
            "Different address family is allowed only for tunneling servers", op)


_KIND_BY_ERRNO: Mapping[int, type[IPVSError]] = {
    errno.EEXIST: AlreadyExists,
    errno.ENOENT: NotFound,
    errno.ESRCH: NotFound,
    errno.EPERM: PermissionDenied,
    errno.EACCES: PermissionDenied,
    errno.EINVAL: InvalidArgument,
    errno.ERANGE: InvalidArgument,
    errno.EAFNOSUPPORT: InvalidArgument,
    errno.EOPNOTSUPP: InvalidArgument,
    errno.ENOPROTOOPT: IPVSUnavailable,
}


def refusal(code: int, message: str, op: Op | None = None) -> IPVSError:
    """The exception for a request the kernel refused with errno `code` (else EINVAL's)."""
    return _KIND_BY_ERRNO.get(code, InvalidArgument)(message, op)
