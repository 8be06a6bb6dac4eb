"""Where the kernel holds a virtual, a real and a fallback, and with which attributes.

The desired table must use the keys the kernel will report back, or the next read would
not find what we added (the original's gate/ipip restore bug, Part A §9). The original
passes `-r <RIP>:<port>` to ipvsadm, and ipvsadm rewrites the port before the kernel sees
it; we program the kernel directly, so the rewrite is done here:

    virtual    forwarding   configured port   port the kernel holds
    tcp/udp    gate, ipip   any, 0 included   the virtual's port (ipvsadm: "the
                                              destination port must be equal to the
                                              service port" for DR and tunnel)
    tcp/udp    masq         N > 0             N
    tcp/udp    masq         0                 0 (ipvsadm copies the virtual's port only
                                              when -r has no port at all; the original
                                              always writes one; the kernel sends
                                              to the port the client asked for)
    fwmark     any          N, 0 included     N (ipvsadm never rewrites for marks)

Service attributes are given in the form the kernel reads back: persistence netmask only
with persistence and never the full mask (255.255.255.255, /128), one-packet scheduling
only on UDP services (the original emits -o only for UDP), scheduler flags as a set.
"""

from __future__ import annotations

from ldirectord.config.model import Fallback, Forwarding, IpvsProtocol, RealServer, VirtualService
from ldirectord.ipvs.model import DestAttrs, DestKey, Method, ServiceAttrs, ServiceKey
from ldirectord.ipvs.rules import read_back_netmask

__all__ = [
    "FALLBACK_WEIGHT",
    "dest_attrs",
    "dest_key",
    "fallback_attrs",
    "fallback_key",
    "real_key",
    "service_attrs",
    "service_key",
]

FALLBACK_WEIGHT = 1


def service_key(virtual: VirtualService) -> ServiceKey:
    """The kernel's key of a virtual service."""
    if virtual.fwmark is not None:
        return ServiceKey(IpvsProtocol.FWM, None, 0, virtual.fwmark, virtual.ipv6)
    return ServiceKey(virtual.protocol, virtual.address, virtual.port, None, virtual.ipv6)


def service_attrs(virtual: VirtualService) -> ServiceAttrs:
    """What `ipvsadm -A/-E` sets for this virtual, in the form the kernel reads back."""
    netmask = read_back_netmask(virtual.ipv6, virtual.netmask, virtual.persistent)
    flags = frozenset(f for f in (virtual.schedflags or "").split(",") if f)
    return ServiceAttrs(
        scheduler=virtual.scheduler,
        persistent=virtual.persistent,
        netmask=netmask,
        ops=virtual.ops and virtual.protocol is IpvsProtocol.UDP,
        schedflags=flags,
    )


def dest_key(virtual: VirtualService, host: str, port: int, forwarding: Forwarding) -> DestKey:
    """Where the kernel holds a real or fallback of this virtual (the table above)."""
    if virtual.fwmark is None and forwarding is not Forwarding.MASQ:
        return DestKey(host, virtual.port)
    return DestKey(host, port)


def real_key(virtual: VirtualService, real: RealServer) -> DestKey:
    return dest_key(virtual, real.host, real.port, real.forwarding)


def fallback_key(virtual: VirtualService, fallback: Fallback) -> DestKey:
    return dest_key(virtual, fallback.host, fallback.port, fallback.forwarding)


def dest_attrs(real: RealServer) -> DestAttrs:
    """An in-service real: its forwarding, configured weight and thresholds."""
    return DestAttrs(
        method=Method.from_forwarding(real.forwarding),
        weight=real.weight,
        upper_threshold=real.upper_threshold,
        lower_threshold=real.lower_threshold,
    )


def fallback_attrs(fallback: Fallback) -> DestAttrs:
    """A fallback in service: always weight 1 and no thresholds (SPEC B §5.1)."""
    return DestAttrs(method=Method.from_forwarding(fallback.forwarding), weight=FALLBACK_WEIGHT)
