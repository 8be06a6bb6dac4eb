"""The desired IPVS table: Config + health + maintenance + the current table -> Table.

Rules of this file:
- Pure: no I/O, no clock. The current table is an input only because the original's
  take-out rules depend on it (a quiescent real absent from the table stays absent unless
  readdquiescent) and because Part A §2 keeps reals already in service at start.
- Every virtual of the config appears, with its attributes; only the destinations listed
  here may exist in it afterwards (diff.py purges the others).
- Keys are what the kernel will hold (config/keys.py has the port mapping table), so the
  next read finds them (Part A §9).

A real's effective status in a virtual:

    in maintenance (any checktype)      DOWN
    checktype=on                        UP
    checktype=off                       UNKNOWN, forever (nothing is ever activated)
    otherwise                           its identity's health (missing: UNKNOWN)

What a real becomes in its virtual (W = configured weight and thresholds, Q = quiescent,
R = readdquiescent; "kept" = the current entry exactly as it is):

    status    Q    current entry             desired entry        counts as
    UP        -    any                       W                    up
    DOWN      no   any                       absent               down
    DOWN      yes  weight 0, same forwarding kept                 down
    DOWN      yes  other                     weight 0, no thresh. down
    DOWN      yes  absent, R=yes             weight 0, no thresh. down
    DOWN      yes  absent, R=no              absent               down
    UNKNOWN   -    weight > 0                W (up until checked) up
    UNKNOWN   -    weight 0                  kept                 pending
    UNKNOWN   -    absent                    absent               pending

("Same forwarding" includes an entry the kernel reports as Local, see diff.py.) Two
reals of a virtual that map to one kernel key (gate reals differing only in port): an
entry at weight > 0 wins over weight 0, else the first in file order.

The fallback of a virtual (weight 1, thresholds 0), never for checktype=off:

    some real up                          absent
    none up, some pending                 as it is now (present stays, absent stays):
                                          at start the fallback goes in only when no
                                          real is up after the reals' first checks
                                          (Part A §2), and one already there stays
    none up, none pending (or no reals)   present

When the fallback's key is also a real's key, the fallback's entry wins while it is
present. `Standing` (up / pending / none up) is returned per virtual for the
fallbackcommand decision in reconcile.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from ldirectord.config.model import CheckType, Config, VirtualService
from ldirectord.engine.health import UNKNOWN, Health, Status
from ldirectord.engine.identity import CheckId
from ldirectord.engine.layout import VirtualSlot, layout
from ldirectord.ipvs.model import DestAttrs, DestKey, Method, ServiceEntry, ServiceKey, Table

__all__ = ["Desired", "Standing", "desired_state", "desired_table", "effective_status"]


class Standing(Enum):
    """Whether a virtual has a real in service, is still waiting for first checks, or not."""

    SOME_UP = "some up"
    PENDING = "pending"
    NONE_UP = "none up"


def effective_status(
    virtual: VirtualService,
    cid: CheckId,
    health: Mapping[CheckId, Health],
    maintenance: Set[CheckId],
) -> Status:
    """The status the table follows for one real of one virtual (first table above)."""
    if cid in maintenance:
        return Status.DOWN
    match virtual.checktype:
        case CheckType.ON:
            return Status.UP
        case CheckType.OFF:
            return Status.UNKNOWN
        case (CheckType.CONNECT | CheckType.NEGOTIATE | CheckType.PING | CheckType.EXTERNAL
              | CheckType.EXTERNAL_PERL | CheckType.COMBINED):
            return health.get(cid, UNKNOWN).status
        case _:
            assert_never(virtual.checktype)


def desired_table(
    config: Config,
    health: Mapping[CheckId, Health],
    maintenance: Set[CheckId],
    actual: Table,
) -> dict[ServiceKey, ServiceEntry]:
    """The table every virtual of `config` must have (only the config's services).

    `health` lacks an identity -> UNKNOWN. `maintenance` lists identities forced down.
    """
    return desired_state(config, health, maintenance, actual).table


@dataclass(frozen=True, slots=True)
class Desired:
    """`desired_table`'s table, each virtual's `Standing`, and the entries that stand for a real
    out of service (quiesced, or waiting at weight 0): those are never "Added" or
    "Restored" but "Readd Quiescent" or "Quiescent", whatever their weight."""

    table: dict[ServiceKey, ServiceEntry]
    standings: dict[ServiceKey, Standing]
    out_of_service: frozenset[tuple[ServiceKey, DestKey]]


def desired_state(
    config: Config,
    health: Mapping[CheckId, Health],
    maintenance: Set[CheckId],
    actual: Table,
) -> Desired:
    """`desired_table`, with what reconcile needs to name the changes."""
    table: dict[ServiceKey, ServiceEntry] = {}
    standings: dict[ServiceKey, Standing] = {}
    out: set[tuple[ServiceKey, DestKey]] = set()
    for slot in layout(config):
        current = actual.get(slot.key)
        dests, standing, down = _dests(slot, config.readdquiescent, health, maintenance,
                                       current.dests if current is not None else {})
        table[slot.key] = ServiceEntry(slot.attrs, dests)
        standings[slot.key] = standing
        out.update((slot.key, dest) for dest in down)
    return Desired(table, standings, frozenset(out))


def _dests(
    slot: VirtualSlot,
    readdquiescent: bool,
    health: Mapping[CheckId, Health],
    maintenance: Set[CheckId],
    current: Mapping[DestKey, DestAttrs],
) -> tuple[dict[DestKey, DestAttrs], Standing, set[DestKey]]:
    """The virtual's entries, its standing, and which entries are reals out of service."""
    virtual = slot.virtual
    dests: dict[DestKey, DestAttrs] = {}
    down: set[DestKey] = set()
    statuses: set[Standing] = set()
    for real in slot.reals:
        key = real.key
        status = effective_status(virtual, real.id, health, maintenance)
        attrs, standing = _real_entry(virtual.quiescent, real.attrs, status, current.get(key),
                                      readdquiescent)
        statuses.add(standing)
        if attrs is not None:
            held = dests.get(key)
            if held is None or (held.weight == 0 and attrs.weight > 0):
                dests[key] = attrs
                if standing is Standing.SOME_UP:
                    down.discard(key)
                else:
                    down.add(key)
    if Standing.SOME_UP in statuses:
        standing = Standing.SOME_UP
    elif Standing.PENDING in statuses:
        standing = Standing.PENDING
    else:
        standing = Standing.NONE_UP
    if slot.fallback is not None and virtual.checktype is not CheckType.OFF:
        fkey, fattrs = slot.fallback
        if standing is Standing.NONE_UP or (standing is Standing.PENDING and fkey in current):
            dests[fkey] = fattrs
            down.discard(fkey)
    return dests, standing, down


def _real_entry(
    quiescent: bool,
    in_service: DestAttrs,
    status: Status,
    current: DestAttrs | None,
    readdquiescent: bool,
) -> tuple[DestAttrs | None, Standing]:
    """One row of the second table above."""
    match status:
        case Status.UP:
            return in_service, Standing.SOME_UP
        case Status.DOWN:
            if not quiescent:
                return None, Standing.NONE_UP
            method = in_service.method
            if current is not None:
                if current.weight == 0 and current.method in (method, Method.LOCAL):
                    return current, Standing.NONE_UP
                return DestAttrs(method, weight=0), Standing.NONE_UP
            if readdquiescent:
                return DestAttrs(method, weight=0), Standing.NONE_UP
            return None, Standing.NONE_UP
        case Status.UNKNOWN:
            if current is None:
                return None, Standing.PENDING
            if current.weight > 0:
                return in_service, Standing.SOME_UP
            return current, Standing.PENDING
        case _:
            assert_never(status)
