"""Choosing the IPVS backend: netlink when usable, else ipvsadm, else `IPVSUnavailable`.

`LDIRECTORD_IPVS=netlink|ipvsadm|memory` (or the `prefer` argument) forces one backend;
a forced backend that cannot be used raises instead of falling back. The memory backend
is never chosen automatically: whether to run without a kernel table is the caller's call.
"""

from __future__ import annotations

import os
from enum import StrEnum

from ldirectord.errors import InvalidArgument, IPVSUnavailable
from ldirectord.ipvs.backend import Backend
from ldirectord.ipvs.ipvsadm import IpvsadmBackend
from ldirectord.ipvs.memory import MemoryBackend
from ldirectord.ipvs.netlink import NetlinkBackend

ENV_VAR = "LDIRECTORD_IPVS"


class BackendKind(StrEnum):
    NETLINK = "netlink"
    IPVSADM = "ipvsadm"
    MEMORY = "memory"


def forced_kind(prefer: str | None = None) -> BackendKind | None:
    """The backend asked for by `prefer` or by $LDIRECTORD_IPVS; None for "choose"."""
    wanted = prefer if prefer is not None else os.environ.get(ENV_VAR, "")
    if not wanted:
        return None
    try:
        return BackendKind(wanted.lower())
    except ValueError:
        choices = ", ".join(k.value for k in BackendKind)
        raise InvalidArgument(f"unknown IPVS backend {wanted!r} (choose {choices})") from None


async def open_kind(kind: BackendKind) -> Backend:
    """Open one backend; `IPVSUnavailable` when it cannot be used here."""
    match kind:
        case BackendKind.NETLINK:
            return await NetlinkBackend.open()
        case BackendKind.IPVSADM:
            return await IpvsadmBackend.open()
        case BackendKind.MEMORY:
            return MemoryBackend()


async def open_backend(prefer: str | None = None) -> Backend:
    """The backend to use: the forced one, else netlink, else ipvsadm.

    Raises `IPVSUnavailable` (naming why each candidate failed) when none can be used.
    """
    kind = forced_kind(prefer)
    if kind is not None:
        return await open_kind(kind)
    reasons = []
    for candidate in (BackendKind.NETLINK, BackendKind.IPVSADM):
        try:
            return await open_kind(candidate)
        except IPVSUnavailable as exc:
            reasons.append(f"{candidate.value}: {exc}")
    raise IPVSUnavailable("no usable IPVS backend (" + "; ".join(reasons) + ")")
