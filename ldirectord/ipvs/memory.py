"""An IPVS table kept in memory that accepts and refuses operations exactly as the kernel does.

`apply_ops` is the pure form (a new table, the input untouched); `MemoryBackend` holds a
table and serves `--dry-run`, debug mode without IPVS, and the tests. The contract suite
in tests/kernel/ runs the same cases against this table and the real kernel.

Kernel behaviour copied here (see also `ldirectord.ipvs.rules`):

- adding a service or destination that exists: AlreadyExists;
- editing or deleting a missing service, adding a destination to one: NotFound
  (ESRCH); editing or deleting a missing destination: NotFound (ENOENT);
- an unknown scheduler: NotFound, as the kernel's ENOENT;
- editing a service replaces all its attributes and keeps its destinations;
- editing a destination replaces weight, forwarding and thresholds and keeps its counters;
- deleting a service deletes its destinations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, assert_never

from ldirectord.errors import AlreadyExists, NotFound
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    EditDest,
    EditService,
    Op,
    ServiceEntry,
    ServiceKey,
    Table,
)
from ldirectord.ipvs.rules import check_dest, check_scheduler, check_service

if TYPE_CHECKING:
    from ldirectord.ipvs.backend import Backend

__all__ = ["MemoryBackend", "apply_ops"]


def apply_ops(table: Table, ops: Sequence[Op]) -> dict[ServiceKey, ServiceEntry]:
    """Apply `ops` in order to a copy of `table` and return it.

    Raises the kernel's error for the first operation it would refuse, with `.op` set;
    `table` is never changed.
    """
    work = dict(table)
    for op in ops:
        _apply_one(work, op)
    return work


def _service(work: Mapping[ServiceKey, ServiceEntry], key: ServiceKey, op: Op) -> ServiceEntry:
    entry = work.get(key)
    if entry is None:
        raise NotFound(f"No such service: {key}", op)
    return entry


def _apply_one(work: dict[ServiceKey, ServiceEntry], op: Op) -> None:
    """Apply one operation to `work` in place; entries are replaced, never mutated."""
    match op:
        case AddService(key, attrs):
            canonical = check_service(key, attrs, op)
            if key in work:
                raise AlreadyExists(f"Service already exists: {key}", op)
            check_scheduler(attrs, op)
            work[key] = ServiceEntry(canonical, {})
        case EditService(key, attrs):
            canonical = check_service(key, attrs, op)
            entry = _service(work, key, op)
            check_scheduler(attrs, op)
            work[key] = ServiceEntry(canonical, entry.dests)
        case DelService(key):
            _service(work, key, op)
            del work[key]
        case AddDest(key, dest, attrs):
            entry = _service(work, key, op)
            check_dest(key, dest, attrs, op)
            if dest in entry.dests:
                raise AlreadyExists(f"Destination already exists: {dest} in {key}", op)
            work[key] = ServiceEntry(entry.attrs, {**entry.dests, dest: _stored(attrs)})
        case EditDest(key, dest, attrs):
            entry = _service(work, key, op)
            check_dest(key, dest, attrs, op)
            old = entry.dests.get(dest)
            if old is None:
                raise NotFound(f"No such destination: {dest} in {key}", op)
            new = replace(attrs, active_conns=old.active_conns,
                          inactive_conns=old.inactive_conns)
            work[key] = ServiceEntry(entry.attrs, {**entry.dests, dest: new})
        case DelDest(key, dest):
            entry = _service(work, key, op)
            if dest not in entry.dests:
                raise NotFound(f"No such destination: {dest} in {key}", op)
            dests = dict(entry.dests)
            del dests[dest]
            work[key] = ServiceEntry(entry.attrs, dests)
        case _:
            assert_never(op)


def _stored(attrs: DestAttrs) -> DestAttrs:
    """A new destination starts with no connections, whatever the op carried."""
    return replace(attrs, active_conns=0, inactive_conns=0)


class MemoryBackend:
    """The `Backend` that keeps its table in memory (`--dry-run`, no IPVS, tests)."""

    name = "memory"

    def __init__(self, table: Table | None = None) -> None:
        self._table: dict[ServiceKey, ServiceEntry] = dict(table or {})

    @property
    def table(self) -> Table:
        """The current table (a snapshot: later operations do not change it)."""
        return dict(self._table)

    async def read(self) -> Table:
        return dict(self._table)

    async def apply(self, ops: Sequence[Op]) -> None:
        # One op at a time on the live table: the ops before a refused one stay applied,
        # as they do in the kernel.
        for op in ops:
            _apply_one(self._table, op)

    async def close(self) -> None:
        return None


if TYPE_CHECKING:
    _check: type[Backend] = MemoryBackend
