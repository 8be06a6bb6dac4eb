"""The one interface every IPVS backend implements (netlink, ipvsadm, memory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ldirectord.ipvs.model import AddDest, AddService, EditDest, EditService, Op, Table
from ldirectord.ipvs.rules import check_dest, check_service


class Backend(Protocol):
    """Reads and writes the IPVS table.

    Error handling: `apply` runs the operations in order and stops at the first one the
    kernel refuses, raising the matching `ldirectord.errors.IPVSError` subclass with `.op`
    set; the operations before it stay applied. `read` raises `IPVSUnavailable` when there
    is no IPVS to read.
    """

    name: str

    async def read(self) -> Table: ...

    async def apply(self, ops: Sequence[Op]) -> None: ...

    async def close(self) -> None: ...


def check_op(op: Op) -> None:
    """Refuse `op` as ipvsadm or the kernel would, before a backend sends it."""
    match op:
        case AddService(key, attrs) | EditService(key, attrs):
            check_service(key, attrs, op)
        case AddDest(key, dest, attrs) | EditDest(key, dest, attrs):
            check_dest(key, dest, attrs, op)
