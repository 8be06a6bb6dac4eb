"""Small builders for configs and tables used by the engine tests."""

from __future__ import annotations

from collections.abc import Mapping

from ldirectord.config.model import (
    CheckType,
    Config,
    Fallback,
    Forwarding,
    IpvsProtocol,
    RealServer,
    Service,
    VirtualService,
)
from ldirectord.ipvs.model import DestAttrs, DestKey, ServiceAttrs, ServiceEntry, ServiceKey

VIP = "10.0.0.1"


def virtual(
    reals: tuple[RealServer, ...] = (),
    *,
    address: str = VIP,
    port: int = 80,
    protocol: IpvsProtocol = IpvsProtocol.TCP,
    fwmark: int | None = None,
    ipv6: bool = False,
    checktype: CheckType = CheckType.NEGOTIATE,
    service: Service = Service.HTTP,
    **kwargs: object,
) -> VirtualService:
    """A virtual service; `fwmark` makes it a firewall-mark service."""
    if fwmark is not None:
        return VirtualService(IpvsProtocol.FWM, None, 0, fwmark, ipv6, reals, checktype=checktype,
                              service=service, **kwargs)  # type: ignore[arg-type]
    return VirtualService(protocol, address, port, None, ipv6, reals, checktype=checktype,
                          service=service, **kwargs)  # type: ignore[arg-type]


def real(host: str, port: int = 80, fwd: Forwarding = Forwarding.MASQ, weight: int = 1,
         **kwargs: object) -> RealServer:
    return RealServer(host, port, fwd, weight, **kwargs)  # type: ignore[arg-type]


def fallback(host: str = "127.0.0.1", port: int = 80,
             fwd: Forwarding = Forwarding.GATE) -> Fallback:
    return Fallback(host, port, fwd, ipv6=":" in host)


def config(*virtuals: VirtualService, **kwargs: object) -> Config:
    return Config("/etc/ha.d/ldirectord.cf", tuple(virtuals), **kwargs)  # type: ignore[arg-type]


def tcp(address: str = VIP, port: int = 80) -> ServiceKey:
    return ServiceKey(IpvsProtocol.TCP, address, port)


def entry(dests: Mapping[DestKey, DestAttrs] | None = None,
          attrs: ServiceAttrs | None = None) -> ServiceEntry:
    return ServiceEntry(attrs or ServiceAttrs(), dict(dests or {}))


__all__ = ["VIP", "config", "entry", "fallback", "real", "tcp", "virtual"]
