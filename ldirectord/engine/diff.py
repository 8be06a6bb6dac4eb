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
from dataclasses import replace

from ldirectord.errors import InvalidArgument
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    EditDest,
    EditService,
    Method,
    Op,
    ServiceAttrs,
    ServiceKey,
    Table,
)
from ldirectord.ipvs.rules import read_back_netmask, sched_flag_bits, sched_flag_names

__all__ = ["diff", "same_dest", "same_service"]


def same_service(key: ServiceKey, a: ServiceAttrs, b: ServiceAttrs) -> bool:
    """Whether two service attribute sets are the same to the kernel."""
    return _canonical(key, a) == _canonical(key, b)


def same_dest(desired: DestAttrs, actual: DestAttrs) -> bool:
    """Whether an actual destination already is what `desired` asks for."""
    if actual.method is not Method.LOCAL and actual.method != desired.method:
        return False
    return (actual.weight == desired.weight
            and actual.upper_threshold == desired.upper_threshold
            and actual.lower_threshold == desired.lower_threshold)


def diff(desired: Table, actual: Table, managed: Set[ServiceKey] = frozenset()) -> list[Op]:
    """The operations that make `actual` look like `desired` for every desired service,
    and delete the services of `managed` that `desired` no longer has.
    """
    ops: list[Op] = []
    for key, want in desired.items():
        have = actual.get(key)
        if have is None:
            ops.append(AddService(key, want.attrs))
            ops.extend(AddDest(key, dest, attrs) for dest, attrs in want.dests.items())
            continue
        if not same_service(key, want.attrs, have.attrs):
            ops.append(EditService(key, want.attrs))
        for dest, attrs in want.dests.items():
            held = have.dests.get(dest)
            if held is None:
                ops.append(AddDest(key, dest, attrs))
            elif not same_dest(attrs, held):
                ops.append(EditDest(key, dest, attrs))
        ops.extend(DelDest(key, dest) for dest in have.dests if dest not in want.dests)
    ops.extend(DelService(key) for key in actual if key in managed and key not in desired)
    return ops


def _canonical(key: ServiceKey, attrs: ServiceAttrs) -> ServiceAttrs:
    """The attributes as the kernel would report them back."""
    netmask = read_back_netmask(key.ipv6, attrs.netmask, attrs.persistent)
    flags = attrs.schedflags
    try:
        flags = sched_flag_names(attrs.scheduler,
                                 sched_flag_bits(attrs.scheduler, attrs.schedflags))
    except InvalidArgument:
        pass  # the kernel will refuse these flags anyway; compare them as written
    return replace(attrs, netmask=netmask, schedflags=flags)
