"""The netlink backend (the default): the IPVS table over generic netlink, asyncio only.

Messages are built and parsed by `ldirectord.ipvs.genl` (why not pyroute2 at run time:
see there). pyroute2's known traps do not apply but are kept in mind: "set" replaces a
whole destination, so forwarding and thresholds are always sent; the forwarding method
is read from the raw IPVS_DEST_ATTR_FWD_METHOD; nothing maps an update to a delete.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, assert_never

from ldirectord.errors import (
    AlreadyExists,
    InvalidArgument,
    IPVSError,
    IPVSUnavailable,
    NotFound,
    PermissionDenied,
)
from ldirectord.ipvs import genl
from ldirectord.ipvs.genl import (
    CMD_ATTR_DEST,
    CMD_ATTR_SERVICE,
    DEST_ACTIVE_CONNS,
    DEST_ADDR,
    DEST_ADDR_FAMILY,
    DEST_FWD_METHOD,
    DEST_INACT_CONNS,
    DEST_L_THRESH,
    DEST_PORT,
    DEST_U_THRESH,
    DEST_WEIGHT,
    SVC_ADDR,
    SVC_AF,
    SVC_FLAGS,
    SVC_FWMARK,
    SVC_NETMASK,
    SVC_PORT,
    SVC_PROTOCOL,
    SVC_SCHED_NAME,
    SVC_TIMEOUT,
    Cmd,
    GenlSocket,
)
from ldirectord.ipvs.model import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    DestKey,
    EditDest,
    EditService,
    IpvsProtocol,
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
IP_VS_CONN_F_FWD_MASK = 0x7
_PROTOCOLS = {socket.IPPROTO_TCP: IpvsProtocol.TCP, socket.IPPROTO_UDP: IpvsProtocol.UDP}
_YIELD_EVERY = 64  # ops between two yields to the event loop during a long apply


@contextmanager
def map_exceptions(op: Op | None = None) -> Iterator[None]:
    """Turn netlink errors into the `IPVSError` subclass for their errno, with `op` set."""
    try:
        yield
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


def _service_from(raw: dict[int, bytes]) -> tuple[ServiceKey, ServiceAttrs] | None:
    """The service in a dump answer; None for a protocol we never manage (e.g. SCTP)."""
    family = genl.u16(raw[SVC_AF])
    ipv6 = family == socket.AF_INET6
    fwmark = genl.u32(raw[SVC_FWMARK]) if SVC_FWMARK in raw else 0
    if fwmark:
        key = ServiceKey(IpvsProtocol.FWM, None, 0, fwmark=fwmark, ipv6=ipv6)
    elif (protocol := _PROTOCOLS.get(genl.u16(raw[SVC_PROTOCOL]))) is None:
        return None
    else:
        key = ServiceKey(protocol,
                         genl.address(raw[SVC_ADDR], family), genl.be16(raw[SVC_PORT]),
                         ipv6=ipv6)
    scheduler = raw.get(SVC_SCHED_NAME, b"").split(b"\0", 1)[0].decode()
    flags = genl.u32(raw[SVC_FLAGS]) if SVC_FLAGS in raw else 0
    persistent = genl.u32(raw[SVC_TIMEOUT]) if flags & SVC_F_PERSISTENT else None
    # An IPv6 prefix length travels in host byte order in this be32 field.
    mask = int.from_bytes(raw.get(SVC_NETMASK, b"\xff" * 4)[:4],
                          sys.byteorder if ipv6 else "big")
    attrs = ServiceAttrs(
        scheduler=scheduler,
        persistent=persistent,
        netmask=netmask_text(ipv6, mask) if persistent is not None else None,
        ops=bool(flags & SVC_F_ONEPACKET),
        schedflags=sched_flag_names(scheduler, flags & SCHED_FLAG_MASK),
    )
    return key, attrs


def _dest_from(raw: dict[int, bytes], service_family: int) -> tuple[DestKey, DestAttrs]:
    family = genl.u16(raw[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in raw else service_family
    # The raw forwarding bits (pyroute2 0.9.7's IPVSDest.from_message reports a default).
    fwd = genl.u32(raw[DEST_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK
    method = Method(fwd) if fwd in Method._value2member_map_ else Method.ROUTE

    def number(kind: int) -> int:
        return genl.u32(raw[kind]) if kind in raw else 0

    attrs = DestAttrs(method=method, weight=number(DEST_WEIGHT),
                      upper_threshold=number(DEST_U_THRESH),
                      lower_threshold=number(DEST_L_THRESH),
                      active_conns=number(DEST_ACTIVE_CONNS),
                      inactive_conns=number(DEST_INACT_CONNS))
    return DestKey(genl.address(raw[DEST_ADDR], family), genl.be16(raw[DEST_PORT])), attrs


class NetlinkBackend:
    """The `Backend` that talks to the kernel over generic netlink (the default)."""

    name = "netlink"

    def __init__(self, sock: GenlSocket) -> None:
        self._sock = sock

    @classmethod
    async def open(cls) -> NetlinkBackend:
        """Connect; raise `IPVSUnavailable` when the kernel has no IPVS netlink family."""
        try:
            with map_exceptions():
                sock = await GenlSocket.open(genl.GENL_NAME)
        except IPVSError as exc:
            raise IPVSUnavailable(f"no IPVS netlink family in this kernel ({exc})") from exc
        return cls(sock)

    async def read(self) -> Table:
        table: dict[ServiceKey, ServiceEntry] = {}
        with map_exceptions():
            for answer in await self._sock.dump(genl.genl_payload(Cmd.GET_SERVICE, None)):
                raw = genl.parse_attrs(genl.parse_attrs(answer)[CMD_ATTR_SERVICE])
                if (service := _service_from(raw)) is None:
                    continue
                key, attrs = service
                family = genl.u16(raw[SVC_AF])
                query = genl.genl_payload(Cmd.GET_DEST, genl.service_key_attrs(key))
                dests: dict[DestKey, DestAttrs] = {}
                for dest in await self._sock.dump(query):
                    dkey, dattrs = _dest_from(
                        genl.parse_attrs(genl.parse_attrs(dest)[CMD_ATTR_DEST]), family)
                    dests[dkey] = dattrs
                table[key] = ServiceEntry(attrs, dests)
        return table

    async def apply(self, ops: Sequence[Op]) -> None:
        for index, op in enumerate(ops, 1):
            payload = _write(op)
            with map_exceptions(op):
                await self._sock.request(payload)
            if index % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def flush(self) -> None:
        """Delete every service (what `ipvsadm -C` does)."""
        with map_exceptions():
            await self._sock.request(genl.genl_payload(Cmd.FLUSH, None))

    async def close(self) -> None:
        self._sock.close()


if TYPE_CHECKING:
    _check: type[Backend] = NetlinkBackend
