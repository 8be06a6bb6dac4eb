"""The desired IPVS table: Config + health + maintenance + the current table -> Table.

Rules of this file:
- Pure: no I/O, no clock. The current table is an input only because the original's
  take-out rules depend on it (quiescent real absent from the table stays absent unless
  readdquiescent) and because Part A §2 keeps reals already in service at start.
- Every managed virtual appears, with its attributes; only dests listed here may exist in
  it afterwards (diff.py purges the others).
- Keys are what the kernel will hold, so that the next read finds them (Part A §9).
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from ldirectord.config.model import Config, Fallback, Forwarding, RealServer, VirtualService
from ldirectord.engine.health import Health
from ldirectord.engine.identity import RealId
from ldirectord.ipvs.model import DestAttrs, DestKey, ServiceAttrs, ServiceEntry, ServiceKey, Table

__all__ = [
    "dest_attrs",
    "dest_key",
    "fallback_key",
    "plan",
    "service_attrs",
    "service_key",
]


def service_key(virtual: VirtualService) -> ServiceKey:
    """The kernel's key of a virtual service."""
    raise NotImplementedError


def service_attrs(virtual: VirtualService) -> ServiceAttrs:
    """What `ipvsadm -A/-E` sets for this virtual, in the form the kernel reads back."""
    raise NotImplementedError


def dest_key(virtual: VirtualService, host: str, port: int, forwarding: Forwarding) -> DestKey:
    """Where the kernel holds a real (or fallback) of this virtual (port mapping table)."""
    raise NotImplementedError


def fallback_key(virtual: VirtualService, fallback: Fallback) -> DestKey:
    raise NotImplementedError


def dest_attrs(real: RealServer) -> DestAttrs:
    """An in-service real: its forwarding, configured weight and thresholds."""
    raise NotImplementedError


def plan(
    config: Config,
    health: Mapping[RealId, Health],
    maintenance: Set[RealId],
    actual: Table,
) -> dict[ServiceKey, ServiceEntry]:
    """The table every virtual of `config` must have (only the config's services).

    `health` lacks an identity -> UNKNOWN. `maintenance` lists identities forced down.
    """
    raise NotImplementedError
