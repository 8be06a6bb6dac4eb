"""The IPVS table as typed values: services, destinations, and the operations that change them.

Command strings never leave the backends: everything above them speaks in these types.
A `Table` keeps the order the kernel returned (ipvsadm prints in that order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from ldirectord.netloc import netloc


class Forwarding(StrEnum):
    """Forwarding method of a real or fallback server (ipvsadm -g / -m / -i)."""

    GATE = "gate"
    MASQ = "masq"
    IPIP = "ipip"


class IpvsProtocol(StrEnum):
    """The IPVS protocol of a virtual service; FWM for firewall-mark services."""

    TCP = "tcp"
    UDP = "udp"
    FWM = "fwm"


class Method(IntEnum):
    """Kernel forwarding method of a destination (IP_VS_CONN_F_*), as ipvsadm names them."""

    MASQ = 0
    LOCAL = 1
    TUNNEL = 2
    ROUTE = 3

    @property
    def label(self) -> str:
        """The word `ipvsadm -Ln` prints: Masq, Local, Tunnel, Route."""
        return self.name.capitalize()

    @classmethod
    def from_forwarding(cls, fwd: Forwarding) -> Method:
        return _FROM_FORWARDING[fwd]


_FROM_FORWARDING = {Forwarding.MASQ: Method.MASQ, Forwarding.IPIP: Method.TUNNEL,
                    Forwarding.GATE: Method.ROUTE}


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """Identity of a virtual service: protocol+address+port, or a firewall mark (per family)."""

    protocol: IpvsProtocol  # FWM for firewall-mark services
    address: str | None  # literal; None for firewall-mark services
    port: int  # 0 for firewall-mark services
    fwmark: int | None = None
    ipv6: bool = False

    def __str__(self) -> str:
        if self.fwmark is not None:
            return f"FWM  {self.fwmark}{' IPv6' if self.ipv6 else ''}"
        return f"{self.protocol.value.upper()}  {netloc(str(self.address), self.port)}"


@dataclass(frozen=True, slots=True)
class ServiceAttrs:
    """What `ipvsadm -A/-E` sets on a service."""

    scheduler: str = "wrr"
    persistent: int | None = None  # timeout in seconds; None = not persistent
    netmask: str | None = None  # IPv4 dotted quad, or IPv6 prefix length as digits
    ops: bool = False  # one-packet scheduling (UDP)
    schedflags: frozenset[str] = frozenset()  # sh-fallback, sh-port, mh-fallback, ...


@dataclass(frozen=True, slots=True)
class DestKey:
    """Identity of a destination inside a service."""

    address: str  # literal; IPv6 without brackets
    port: int

    def __str__(self) -> str:
        return netloc(self.address, self.port)


@dataclass(frozen=True, slots=True)
class DestAttrs:
    """What `ipvsadm -a/-e` sets on a destination; counters are read-only extras."""

    method: Method
    weight: int = 1
    upper_threshold: int = 0
    lower_threshold: int = 0
    active_conns: int = field(default=0, compare=False)
    inactive_conns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One service as the kernel holds it, with its destinations in kernel order."""

    attrs: ServiceAttrs
    dests: Mapping[DestKey, DestAttrs] = field(default_factory=dict)


Table = Mapping[ServiceKey, ServiceEntry]


@dataclass(frozen=True, slots=True)
class AddService:
    service: ServiceKey
    attrs: ServiceAttrs


@dataclass(frozen=True, slots=True)
class EditService:
    service: ServiceKey
    attrs: ServiceAttrs


@dataclass(frozen=True, slots=True)
class DelService:
    service: ServiceKey


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: DestKey
    attrs: DestAttrs


@dataclass(frozen=True, slots=True)
class EditDest:
    service: ServiceKey
    dest: DestKey
    attrs: DestAttrs


@dataclass(frozen=True, slots=True)
class DelDest:
    service: ServiceKey
    dest: DestKey


Op = AddService | EditService | DelService | AddDest | EditDest | DelDest
