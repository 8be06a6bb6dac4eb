"""The netlink backend (the default): the IPVS table over generic netlink, asyncio only.

Messages are built and parsed by `ldirectord.ipvs.genl` (why not pyroute2 at run time:
see docs/ipvs.md). pyroute2's known traps do not apply but are kept in mind: "set" replaces a
whole destination, so forwarding and thresholds are always sent; the forwarding method
is read from the raw IPVS_DEST_ATTR_FWD_METHOD; nothing maps an update to a delete.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, assert_never

from ldirectord.errors import IPVSError, IPVSUnavailable
from ldirectord.ipvs import genl, model
from ldirectord.ipvs.backend import Backend, check_op
from ldirectord.ipvs.genl import Cmd, GenlSocket
from ldirectord.ipvs.rules import refusal

_YIELD_EVERY = 64  # ops between two yields to the event loop during a long apply


@contextmanager
def map_exceptions(op: model.Op | None = None) -> Iterator[None]:
    """Turn netlink errors into the `IPVSError` subclass for their errno, with `op` set."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        text = exc.strerror or str(exc)
        raise refusal(exc.errno, f"{errno.errorcode.get(exc.errno, exc.errno)}: {text}",
                      op) from exc


def _write(op: model.Op) -> bytes:
    """The genl payload that performs one operation."""
    match op:
        case model.AddService(key, attrs) | model.EditService(key, attrs):
            cmd = Cmd.NEW_SERVICE if isinstance(op, model.AddService) else Cmd.SET_SERVICE
            return genl.genl_payload(cmd, genl.service_attrs(key, attrs))
        case model.DelService(key):
            return genl.genl_payload(Cmd.DEL_SERVICE, genl.service_key_attrs(key))
        case model.AddDest(key, dest, attrs) | model.EditDest(key, dest, attrs):
            cmd = Cmd.NEW_DEST if isinstance(op, model.AddDest) else Cmd.SET_DEST
            return genl.genl_payload(cmd, genl.service_key_attrs(key),
                                     genl.dest_attrs(dest, attrs))
        case model.DelDest(key, dest):
            return genl.genl_payload(Cmd.DEL_DEST, genl.service_key_attrs(key),
                                     genl.dest_key_attrs(dest))
        case _:
            assert_never(op)


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

    async def read(self) -> model.Table:
        with map_exceptions():
            answers = await self._sock.dump(genl.genl_payload(Cmd.GET_SERVICE, None))
            return {key: model.ServiceEntry(attrs, await self._dests(key))
                    for key, attrs in genl.services_from(answers)}

    async def _dests(self, key: model.ServiceKey) -> dict[model.DestKey, model.DestAttrs]:
        query = genl.genl_payload(Cmd.GET_DEST, genl.service_key_attrs(key))
        return genl.dests_from(await self._sock.dump(query), key.ipv6)

    async def apply(self, ops: Sequence[model.Op]) -> None:
        for index, op in enumerate(ops, 1):
            check_op(op)
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
