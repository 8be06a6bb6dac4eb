"""A config worked out once: each virtual's kernel keys, attributes and reals' identities.

Every reconcile walks every real of every virtual; computing identities, kernel keys and
attributes again each time costs more than the decisions themselves at thousands of
reals. `layout(config)` computes them once per Config object. The memo holds the last few
configs by identity (a reload brings a new object), so it changes no result: the same
input always gives the same output, only faster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ldirectord.config.keys import (
    dest_attrs,
    fallback_attrs,
    fallback_key,
    real_key,
    service_attrs,
    service_key,
)
from ldirectord.config.model import Config, RealServer, VirtualService
from ldirectord.engine.events import Role
from ldirectord.engine.identity import CheckId, check_id
from ldirectord.ipvs.model import DestAttrs, DestKey, ServiceAttrs, ServiceKey
from ldirectord.netloc import netloc

__all__ = ["RealSlot", "VirtualSlot", "layout"]


@dataclass(frozen=True, slots=True)
class RealSlot:
    """One real of one virtual: its identity, where the kernel holds it, its attributes
    in service."""

    real: RealServer
    id: CheckId
    key: DestKey
    attrs: DestAttrs


@dataclass(frozen=True, slots=True)
class VirtualSlot:
    """One virtual: its key and attributes, its reals, its fallback, and who owns each of
    its configured kernel keys (a real wins over the fallback, the first real over later
    ones) with the `<RIP>:<port>` text log lines use for it."""

    virtual: VirtualService
    key: ServiceKey
    attrs: ServiceAttrs
    reals: tuple[RealSlot, ...]
    fallback: tuple[DestKey, DestAttrs] | None
    owners: Mapping[DestKey, tuple[Role, str]]


_MEMO_SIZE = 4
_memo: list[tuple[Config, tuple[VirtualSlot, ...]]] = []


def layout(config: Config) -> tuple[VirtualSlot, ...]:
    """The virtuals of `config` worked out, in file order."""
    for seen, slots in _memo:
        if seen is config:
            return slots
    slots = tuple(_virtual_slot(v) for v in config.virtuals)
    _memo.insert(0, (config, slots))
    del _memo[_MEMO_SIZE:]
    return slots


def _virtual_slot(virtual: VirtualService) -> VirtualSlot:
    reals = tuple(RealSlot(r, check_id(virtual, r), real_key(virtual, r), dest_attrs(r))
                  for r in virtual.reals)
    owners: dict[DestKey, tuple[Role, str]] = {}
    fallback = None
    if virtual.fallback is not None:
        fb = virtual.fallback
        fallback = (fallback_key(virtual, fb), fallback_attrs(fb))
        owners[fallback[0]] = (Role.FALLBACK, netloc(fb.host, fb.port))
    for slot in reversed(reals):
        owners[slot.key] = (Role.REAL, netloc(slot.real.host, slot.real.port))
    return VirtualSlot(virtual, service_key(virtual), service_attrs(virtual), reals,
                       fallback, owners)
