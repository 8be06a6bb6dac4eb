"""Every kind of IPVS entry the daemon can create, as operations (shared by the kernel tests)."""

from __future__ import annotations

from ldirectord.config.model import IpvsProtocol
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DestAttrs,
    DestKey,
    Method,
    Op,
    ServiceAttrs,
    ServiceKey,
)
from ldirectord.ipvs.rules import SCHEDULERS


def tcp(address: str, port: int) -> ServiceKey:
    return ServiceKey(IpvsProtocol.TCP, address, port, ipv6=":" in address)


def udp(address: str, port: int) -> ServiceKey:
    return ServiceKey(IpvsProtocol.UDP, address, port, ipv6=":" in address)


def fwm(mark: int, ipv6: bool = False) -> ServiceKey:
    return ServiceKey(IpvsProtocol.FWM, None, 0, fwmark=mark, ipv6=ipv6)


# IPv4 services are all in 10.0.0.0/8 or 192.168.0.0/16: ipvsadm's address comparison
# wraps around at 2**31, and with only two such groups its order is still a total order.
KINDS: dict[str, list[Op]] = {
    "tcp-v4-masq": [
        AddService(tcp("10.1.0.1", 80), ServiceAttrs("wrr")),
        AddDest(tcp("10.1.0.1", 80), DestKey("10.1.1.2", 8080), DestAttrs(Method.MASQ, 3)),
        AddDest(tcp("10.1.0.1", 80), DestKey("10.1.1.1", 80), DestAttrs(Method.MASQ, 0)),
    ],
    "tcp-v4-gate-ipip": [
        AddService(tcp("192.168.7.1", 443), ServiceAttrs("rr")),
        AddDest(tcp("192.168.7.1", 443), DestKey("192.168.7.2", 443), DestAttrs(Method.ROUTE)),
        AddDest(tcp("192.168.7.1", 443), DestKey("192.168.7.3", 443),
                DestAttrs(Method.TUNNEL, 70000)),
    ],
    "udp-v4-ops-sh-flags": [
        AddService(udp("10.0.4.1", 53), ServiceAttrs("sh", 600, "255.255.255.0", ops=True,
                                                     schedflags=frozenset({"sh-port",
                                                                           "sh-fallback"}))),
        AddDest(udp("10.0.4.1", 53), DestKey("10.0.4.2", 53), DestAttrs(Method.MASQ, 1)),
    ],
    "udp-generic-flags": [
        AddService(udp("10.0.4.9", 53), ServiceAttrs("wlc", schedflags=frozenset(
            {"flag-1", "flag-2", "flag-3"}))),
    ],
    "thresholds": [
        AddService(tcp("10.2.0.1", 25), ServiceAttrs("lc", 300)),
        AddDest(tcp("10.2.0.1", 25), DestKey("10.2.0.2", 25),
                DestAttrs(Method.ROUTE, 5, upper_threshold=100, lower_threshold=50)),
        AddDest(tcp("10.2.0.1", 25), DestKey("10.2.0.3", 25),
                DestAttrs(Method.MASQ, 2, upper_threshold=7, lower_threshold=0)),
    ],
    "tcp-v6": [
        AddService(tcp("2001:db8::1", 443), ServiceAttrs("mh", 30, "64", schedflags=frozenset(
            {"mh-port", "mh-fallback"}))),
        AddDest(tcp("2001:db8::1", 443), DestKey("2001:db8::2", 8443), DestAttrs(Method.MASQ, 3)),
        AddDest(tcp("2001:db8::1", 443), DestKey("2001:db8::3", 443),
                DestAttrs(Method.ROUTE, 1, 10, 2)),
        AddDest(tcp("2001:db8::1", 443), DestKey("10.1.1.7", 443), DestAttrs(Method.TUNNEL, 3)),
    ],
    "udp-v6": [
        AddService(udp("2001:db8::53", 53), ServiceAttrs("wrr", 120)),
        AddDest(udp("2001:db8::53", 53), DestKey("2001:db8::54", 53), DestAttrs(Method.MASQ)),
    ],
    "fwm-v4": [
        AddService(fwm(7), ServiceAttrs("rr", 360, "255.255.0.0")),
        AddDest(fwm(7), DestKey("10.0.0.5", 0), DestAttrs(Method.ROUTE, 2)),
        AddDest(fwm(7), DestKey("127.0.0.1", 0), DestAttrs(Method.ROUTE, 1)),
    ],
    "fwm-v6": [
        AddService(fwm(8, ipv6=True), ServiceAttrs("wrr", 60, "64")),
        AddDest(fwm(8, ipv6=True), DestKey("::1", 0), DestAttrs(Method.ROUTE, 2)),
    ],
    "fwm-ops": [
        AddService(fwm(9), ServiceAttrs("sh", ops=True, schedflags=frozenset({"sh-port"}))),
    ],
}
KINDS["every-scheduler"] = [AddService(tcp(f"10.9.{i}.1", 80), ServiceAttrs(sched))
                            for i, sched in enumerate(sorted(SCHEDULERS))]

ALL_OPS: list[Op] = [op for ops in KINDS.values() for op in ops]
