"""The netlink backend: reads the IPVS table with pyroute2's AsyncIPVS, writes it over genl.

Reading uses pyroute2's asyncio API (it works in 0.9.7). Two of its traps are avoided on
purpose: the forwarding method is read from the raw IPVS_DEST_ATTR_FWD_METHOD (its
`IPVSDest.from_message` reports a class default instead), and "update" is never used
(it maps to a delete in 0.8.1-0.9.7). Writes go through `ldirectord.ipvs.genl`, which
always sends whole services and destinations, forwarding and thresholds included.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, assert_never

from pyroute2.ipvs import AsyncIPVS, IPVSService
from pyroute2.netlink.exceptions import NetlinkError

from ldirectord.config.model import Protocol
from ldirectord.errors import (
    AlreadyExists,
    InvalidArgument,
    IPVSError,
    IPVSUnavailable,
    NotFound,
    PermissionDenied,
)
from ldirectord.ipvs import genl
from ldirectord.ipvs.genl import Cmd, GenlSocket
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    DestKey,
    EditDest,
    EditService,
    Method,
    Op,
    ServiceAttrs,
    ServiceEntry,
    ServiceKey,
    Table,
)
from ldirectord.ipvs.rules import (
    SCHED_FLAG_MASK,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    check_dest,
    check_service,
    netmask_text,
    sched_flag_names,
)

if TYPE_CHECKING:
    from ldirectord.ipvs.backend import Backend

_ERRNO_MAP: Mapping[int, type[IPVSError]] = {
    errno.EEXIST: AlreadyExists,
    errno.ENOENT: NotFound,
    errno.ESRCH: NotFound,
    errno.EPERM: PermissionDenied,
    errno.EACCES: PermissionDenied,
    errno.EINVAL: InvalidArgument,
    errno.ERANGE: InvalidArgument,
    errno.EAFNOSUPPORT: InvalidArgument,
    errno.EOPNOTSUPP: InvalidArgument,
    errno.ENOPROTOOPT: IPVSUnavailable,
}
_PROTOCOLS = {socket.IPPROTO_TCP: Protocol.TCP, socket.IPPROTO_UDP: Protocol.UDP}
_YIELD_EVERY = 64  # ops between two yields to the event loop during a long apply


@contextmanager
def map_exceptions(op: Op | None = None) -> Iterator[None]:
    """Turn netlink errors into the `IPVSError` subclass for their errno, with `op` set."""
    try:
        yield
    except NetlinkError as exc:
        raise _mapped(exc.code, str(exc), op) from exc
    except OSError as exc:
        if exc.errno is None:
            raise
        raise _mapped(exc.errno, exc.strerror or str(exc), op) from exc


def _mapped(code: int, text: str, op: Op | None) -> IPVSError:
    kind = _ERRNO_MAP.get(code, InvalidArgument)
    return kind(f"{errno.errorcode.get(code, code)}: {text}", op)


def _write(op: Op) -> bytes:
    """The genl payload for one operation (after the same checks as the memory table)."""
    match op:
        case AddService(key, attrs) | EditService(key, attrs):
            check_service(key, attrs, op)
            cmd = Cmd.NEW_SERVICE if isinstance(op, AddService) else Cmd.SET_SERVICE
            return genl.genl_payload(cmd, genl.service_attrs(key, attrs))
        case DelService(key):
            return genl.genl_payload(Cmd.DEL_SERVICE, genl.service_key_attrs(key))
        case AddDest(key, dest, attrs) | EditDest(key, dest, attrs):
            check_dest(key, dest, attrs, op)
            cmd = Cmd.NEW_DEST if isinstance(op, AddDest) else Cmd.SET_DEST
            return genl.genl_payload(cmd, genl.service_key_attrs(key),
                                     genl.dest_attrs(dest, attrs))
        case DelDest(key, dest):
            return genl.genl_payload(Cmd.DEL_DEST, genl.service_key_attrs(key),
                                     genl.dest_key_attrs(dest))
        case _:
            assert_never(op)


def _attrs(nla: Any) -> dict[str, Any]:
    return dict(nla["attrs"]) if nla is not None else {}


def _service_from(raw: dict[str, Any]) -> tuple[ServiceKey, ServiceAttrs]:
    ipv6 = raw.get("IPVS_SVC_ATTR_AF") == socket.AF_INET6
    fwmark = raw.get("IPVS_SVC_ATTR_FWMARK") or None
    if fwmark is not None:
        key = ServiceKey(Protocol.FWM, None, 0, fwmark=fwmark, ipv6=ipv6)
    else:
        key = ServiceKey(_PROTOCOLS[raw["IPVS_SVC_ATTR_PROTOCOL"]], raw["IPVS_SVC_ATTR_ADDR"],
                         raw["IPVS_SVC_ATTR_PORT"], ipv6=ipv6)
    scheduler = raw.get("IPVS_SVC_ATTR_SCHED_NAME", "")
    flags = raw.get("IPVS_SVC_ATTR_FLAGS", {}).get("flags", 0)
    persistent = raw.get("IPVS_SVC_ATTR_TIMEOUT", 0) if flags & SVC_F_PERSISTENT else None
    mask_bytes = socket.inet_aton(raw.get("IPVS_SVC_ATTR_NETMASK", "255.255.255.255"))
    mask = int.from_bytes(mask_bytes, sys.byteorder if ipv6 else "big")
    attrs = ServiceAttrs(
        scheduler=scheduler,
        persistent=persistent,
        netmask=netmask_text(ipv6, mask) if persistent is not None else None,
        ops=bool(flags & SVC_F_ONEPACKET),
        schedflags=sched_flag_names(scheduler, flags & SCHED_FLAG_MASK),
    )
    return key, attrs


def _dest_from(raw: dict[str, Any]) -> tuple[DestKey, DestAttrs]:
    # Not IPVSDest.from_message(...)["fwd_method"]: that is a class default in 0.9.7.
    fwd = raw.get("IPVS_DEST_ATTR_FWD_METHOD", 0) & 0x7
    method = Method(fwd) if fwd in Method._value2member_map_ else Method.ROUTE
    attrs = DestAttrs(
        method=method,
        weight=raw.get("IPVS_DEST_ATTR_WEIGHT", 0),
        upper_threshold=raw.get("IPVS_DEST_ATTR_U_THRESH", 0),
        lower_threshold=raw.get("IPVS_DEST_ATTR_L_THRESH", 0),
        active_conns=raw.get("IPVS_DEST_ATTR_ACTIVE_CONNS", 0),
        inactive_conns=raw.get("IPVS_DEST_ATTR_INACT_CONNS", 0),
    )
    return DestKey(raw["IPVS_DEST_ATTR_ADDR"], raw["IPVS_DEST_ATTR_PORT"]), attrs


def _pyroute2_key(key: ServiceKey) -> Any:
    af = socket.AF_INET6 if key.ipv6 else socket.AF_INET
    if key.fwmark is not None:
        return IPVSService(af=af, fwmark=key.fwmark)
    return IPVSService(af=af, protocol=genl.PROTO_NUMBERS[key.protocol], addr=key.address,
                       port=key.port)


class NetlinkBackend:
    """The `Backend` that talks to the kernel over generic netlink (the default)."""

    name = "netlink"

    def __init__(self, reader: Any, writer: GenlSocket) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls) -> NetlinkBackend:
        """Connect; raise `IPVSUnavailable` when the kernel has no IPVS netlink family."""
        reader = AsyncIPVS()
        try:
            with map_exceptions():
                await reader.setup_endpoint()
                family = reader.prid
                writer = GenlSocket(family)
        except IPVSError as exc:
            reader.close()
            raise IPVSUnavailable(f"no IPVS netlink family in this kernel ({exc})") from exc
        return cls(reader, writer)

    async def read(self) -> Table:
        table: dict[ServiceKey, ServiceEntry] = {}
        with map_exceptions():
            for msg in await self._reader.service("dump"):
                key, attrs = _service_from(_attrs(msg.get("IPVS_CMD_ATTR_SERVICE")))
                dests: dict[DestKey, DestAttrs] = {}
                for dmsg in await self._reader.dest("dump", service=_pyroute2_key(key)):
                    dkey, dattrs = _dest_from(_attrs(dmsg.get("IPVS_CMD_ATTR_DEST")))
                    dests[dkey] = dattrs
                table[key] = ServiceEntry(attrs, dests)
        return table

    async def apply(self, ops: Sequence[Op]) -> None:
        for index, op in enumerate(ops, 1):
            payload = _write(op)
            with map_exceptions(op):
                await self._writer.request(payload)
            if index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def flush(self) -> None:
        """Delete every service (what `ipvsadm -C` does)."""
        with map_exceptions():
            await self._writer.request(genl.genl_payload(Cmd.FLUSH, None))

    async def close(self) -> None:
        self._writer.close()
        self._reader.close()


if TYPE_CHECKING:
    _check: type[Backend] = NetlinkBackend
