"""The fewest IPVS operations that turn the actual table into the desired one.

Rules of this file:
- Services outside `desired` and outside `managed` are never touched (another tool's).
- A service in `managed` but not in `desired` (a reload removed it) is deleted.
- Inside a desired service, destinations not desired are deleted (purged).
- A service is edited only when its attributes differ, a destination only when its
  forwarding, weight or thresholds differ (connection counters never matter).
- Attributes are compared in the form the kernel reads back: a full persistence netmask
  is no netmask, a netmask without persistence is ignored, and a destination the kernel
  reports as `Local` (a local address) matches any forwarding, since asking again would
  only make the kernel say `Local` again.
- Order: for each desired service in order, its AddService/EditService, then its
  destination adds and edits (desired order), then its destination deletes (actual
  order), so that a virtual never goes through an empty moment when a real replaces its
  fallback; last, the DelService of removed services.
"""

from __future__ import annotations

from collections.abc import Set

from ldirectord.ipvs.model import DestAttrs, Op, ServiceAttrs, ServiceKey, Table

__all__ = ["diff", "same_dest", "same_service"]


def same_service(key: ServiceKey, a: ServiceAttrs, b: ServiceAttrs) -> bool:
    """Whether two service attribute sets are the same to the kernel."""
    raise NotImplementedError


def same_dest(desired: DestAttrs, actual: DestAttrs) -> bool:
    """Whether an actual destination already is what `desired` asks for."""
    raise NotImplementedError


def diff(desired: Table, actual: Table, managed: Set[ServiceKey] = frozenset()) -> list[Op]:
    """The operations that make `actual` look like `desired` for every desired service,
    and delete the services of `managed` that `desired` no longer has.
    """
    raise NotImplementedError
