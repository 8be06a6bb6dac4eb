"""IPVS over generic netlink: message encoding and decoding, and a non-blocking socket.

pyroute2's IPVS module defines the wire format we follow, and tests/kernel/test_genl.py
checks our bytes against its encoder and our decoder against its messages. We do not call
it at run time, for two measured reasons (Debian 6.1 kernel under QEMU/TCG):
each pyroute2 request costs ~12 ms against ~0.2 ms for a packed one (70x; a daemon
restoring a thousand reals at once would stall, and netlink would be only ~8x faster than
spawning ipvsadm), and `import pyroute2` loads its whole package (0.2 s natively, 10-30 s
under emulation, paid by every daemon start and `--ipvs-dump`).

Every write waits for its ACK before the next is sent, so the kernel's answer to each
operation is known (a batch would go on after a refusal).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from enum import IntEnum

from ldirectord.ipvs.model import DestAttrs, DestKey, IpvsProtocol, ServiceAttrs, ServiceKey
from ldirectord.ipvs.rules import (
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    is_ipv6,
    netmask_value,
    sched_flag_bits,
)

NETLINK_GENERIC = 16
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLA_TYPE_MASK = 0x3FFF
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
RECV_SIZE = 1 << 16
GENL_VERSION = 1
GENL_NAME = "IPVS"
# IPVS_CMD_ATTR_*, IPVS_SVC_ATTR_*, IPVS_DEST_ATTR_* (include/uapi/linux/ip_vs.h)
CMD_ATTR_SERVICE, CMD_ATTR_DEST = 1, 2
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK = 1, 2, 3, 4, 5
SVC_SCHED_NAME, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK = 6, 7, 8, 9
DEST_ADDR, DEST_PORT, DEST_FWD_METHOD, DEST_WEIGHT = 1, 2, 3, 4
DEST_U_THRESH, DEST_L_THRESH, DEST_ACTIVE_CONNS, DEST_INACT_CONNS = 5, 6, 7, 8
DEST_ADDR_FAMILY = 11
_NLMSGHDR = struct.Struct("=IHHII")
_GENLHDR = struct.Struct("=BBH")
_NLA = struct.Struct("=HH")

PROTO_NUMBERS = {IpvsProtocol.TCP: socket.IPPROTO_TCP, IpvsProtocol.UDP: socket.IPPROTO_UDP}


class Cmd(IntEnum):
    """IPVS_CMD_* (include/uapi/linux/ip_vs.h)."""

    NEW_SERVICE = 1
    SET_SERVICE = 2
    DEL_SERVICE = 3
    NEW_DEST = 5
    SET_DEST = 6
    DEL_DEST = 7
    GET_SERVICE = 4
    GET_DEST = 8
    FLUSH = 17


class NetlinkRefused(OSError):
    """The kernel answered a request with a negative errno."""


def _nla(kind: int, payload: bytes) -> bytes:
    length = _NLA.size + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (-length % 4)


def _u16(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=H", value))


def _u32(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack("=I", value))


def _be16(kind: int, value: int) -> bytes:
    return _nla(kind, struct.pack(">H", value))


def _addr(kind: int, address: str) -> bytes:
    family = socket.AF_INET6 if is_ipv6(address) else socket.AF_INET
    return _nla(kind, socket.inet_pton(family, address))


def _af(ipv6: bool) -> int:
    return socket.AF_INET6 if ipv6 else socket.AF_INET


def service_key_attrs(key: ServiceKey) -> bytes:
    """IPVS_SVC_ATTR_{AF,PROTOCOL,ADDR,PORT} or {AF,FWMARK}: what names a service."""
    if key.fwmark is not None:
        return _u16(SVC_AF, _af(key.ipv6)) + _u32(SVC_FWMARK, key.fwmark)
    assert key.address is not None
    return (_u16(SVC_AF, _af(key.ipv6)) + _u16(SVC_PROTOCOL, PROTO_NUMBERS[key.protocol])
            + _addr(SVC_ADDR, key.address) + _be16(SVC_PORT, key.port))


def service_attrs(key: ServiceKey, attrs: ServiceAttrs) -> bytes:
    """A whole service: the kernel wants every attribute on both NEW and SET."""
    flags = sched_flag_bits(attrs.scheduler, attrs.schedflags)
    if attrs.persistent is not None:
        flags |= SVC_F_PERSISTENT
    if attrs.ops:
        flags |= SVC_F_ONEPACKET
    mask = netmask_value(key, attrs)
    # The kernel reads an IPv6 prefix length out of this be32 field in host byte order.
    raw_mask = mask.to_bytes(4, sys.byteorder) if key.ipv6 else mask.to_bytes(4, "big")
    return (service_key_attrs(key)
            + _nla(SVC_SCHED_NAME, attrs.scheduler.encode() + b"\0")
            + _nla(SVC_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF))
            + _u32(SVC_TIMEOUT, attrs.persistent or 0)
            + _nla(SVC_NETMASK, raw_mask))


def dest_key_attrs(dest: DestKey) -> bytes:
    return (_addr(DEST_ADDR, dest.address) + _be16(DEST_PORT, dest.port)
            + _u16(DEST_ADDR_FAMILY, _af(is_ipv6(dest.address))))


def dest_attrs(dest: DestKey, attrs: DestAttrs) -> bytes:
    """A whole destination: SET replaces every field, so all of them are always sent."""
    return (dest_key_attrs(dest) + _u32(DEST_FWD_METHOD, int(attrs.method))
            + _u32(DEST_WEIGHT, attrs.weight) + _u32(DEST_U_THRESH, attrs.upper_threshold)
            + _u32(DEST_L_THRESH, attrs.lower_threshold))


def genl_payload(cmd: Cmd, service: bytes | None, dest: bytes | None = None) -> bytes:
    """genlmsghdr plus the nested IPVS_CMD_ATTR_SERVICE / IPVS_CMD_ATTR_DEST."""
    body = _GENLHDR.pack(int(cmd), GENL_VERSION, 0)
    if service is not None:
        body += _nla(CMD_ATTR_SERVICE, service)
    if dest is not None:
        body += _nla(CMD_ATTR_DEST, dest)
    return body


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """The netlink attributes in `data[offset:]`, by type (flag bits stripped)."""
    attrs: dict[int, bytes] = {}
    while offset + _NLA.size <= len(data):
        length, kind = _NLA.unpack_from(data, offset)
        if length < _NLA.size:
            break
        attrs[kind & NLA_TYPE_MASK] = data[offset + _NLA.size:offset + length]
        offset += (length + 3) & ~3
    return attrs


def u16(raw: bytes) -> int:
    return int(struct.unpack("=H", raw[:2])[0])


def u32(raw: bytes) -> int:
    return int(struct.unpack("=I", raw[:4])[0])


def be16(raw: bytes) -> int:
    return int(struct.unpack(">H", raw[:2])[0])


def address(raw: bytes, family: int) -> str:
    """An IPVS address attribute (a 16-byte union; IPv4 uses the first 4 bytes)."""
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


class GenlSocket:
    """A non-blocking generic-netlink socket: one request at a time, ACKs and dumps."""

    def __init__(self, family_id: int = GENL_ID_CTRL) -> None:
        self.family = family_id
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self._sock.setblocking(False)
        self._sock.bind((0, 0))
        self._seq = 0

    @classmethod
    async def open(cls, name: str) -> GenlSocket:
        """A socket for the generic-netlink family `name`; `NetlinkRefused` if it is absent."""
        sock = cls()
        try:
            payload = _GENLHDR.pack(CTRL_CMD_GETFAMILY, 1, 0) + _nla(
                CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
            (reply,) = await sock.dump(payload, dump=False)
            sock.family = u16(parse_attrs(reply)[CTRL_ATTR_FAMILY_ID])
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        self._sock.close()

    async def _send(self, payload: bytes, flags: int) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), self.family, flags, self._seq, 0)
        await asyncio.get_running_loop().sock_sendall(self._sock, header + payload)
        return self._seq

    async def _recv(self) -> bytes:
        # The kernel answers a generic-netlink request inside send() (and fills each dump
        # chunk inside recv()), so data is normally waiting; the await covers the rest.
        try:
            return self._sock.recv(RECV_SIZE)
        except BlockingIOError:
            return await asyncio.get_running_loop().sock_recv(self._sock, RECV_SIZE)

    async def request(self, payload: bytes) -> None:
        """Send one request; raise `NetlinkRefused` if the kernel refuses it."""
        seq = await self._send(payload, NLM_F_REQUEST | NLM_F_ACK)
        while True:
            for kind, body in _messages(await self._recv(), seq):
                if kind == NLMSG_ERROR:
                    _raise_error(body)
                    return

    async def dump(self, payload: bytes, dump: bool = True) -> list[bytes]:
        """Send a GET; return each answer's attributes (after the genl header)."""
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        seq = await self._send(payload, flags)
        answers: list[bytes] = []
        while True:
            for kind, body in _messages(await self._recv(), seq):
                if kind == NLMSG_DONE:
                    return answers
                if kind == NLMSG_ERROR:
                    _raise_error(body)
                    return answers  # the ACK that ends a non-dump GET
                answers.append(body[_GENLHDR.size:])


def _messages(data: bytes, seq: int) -> list[tuple[int, bytes]]:
    """(type, payload) of the netlink messages in `data` answering `seq`."""
    found = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        if mseq == seq:
            found.append((kind, data[offset + _NLMSGHDR.size:offset + length]))
        offset += (length + 3) & ~3
    return found


def _raise_error(body: bytes) -> None:
    (code,) = struct.unpack_from("=i", body)
    if code < 0:
        raise NetlinkRefused(-code, os.strerror(-code))
