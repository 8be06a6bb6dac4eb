"""IPVS over generic netlink: message encoding and decoding, and a non-blocking socket.

pyroute2's IPVS module defines the wire format we follow, and tests/kernel/test_genl.py
checks our bytes against its encoder and our decoder against its messages. We do not call
it at run time: its requests are slow and its import is large (docs/ipvs.md has the
figures). Dump answers are decoded into the model's values here too (`service_from`,
`dest_from`).

Every write waits for its ACK before the next is sent, so the kernel's answer to each
operation is known (a batch would go on after a refusal).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from collections.abc import Sequence
from enum import IntEnum

from ldirectord.ipvs.model import DestAttrs, DestKey, IpvsProtocol, Method, ServiceAttrs, ServiceKey
from ldirectord.ipvs.rules import (
    SCHED_FLAG_MASK,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    is_ipv6,
    netmask_text,
    netmask_value,
    sched_flag_bits,
    sched_flag_names,
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
_PROTOCOLS = {number: protocol for protocol, number in PROTO_NUMBERS.items()}
IP_VS_CONN_F_FWD_MASK = 0x7


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


def service_from(raw: dict[int, bytes]) -> tuple[ServiceKey, ServiceAttrs] | None:
    """The service in a dump answer; None for a protocol we never manage (e.g. SCTP)."""
    family = u16(raw[SVC_AF])
    ipv6 = family == socket.AF_INET6
    fwmark = u32(raw[SVC_FWMARK]) if SVC_FWMARK in raw else 0
    if fwmark:
        key = ServiceKey(IpvsProtocol.FWM, None, 0, fwmark=fwmark, ipv6=ipv6)
    elif (protocol := _PROTOCOLS.get(u16(raw[SVC_PROTOCOL]))) is None:
        return None
    else:
        key = ServiceKey(protocol, address(raw[SVC_ADDR], family), be16(raw[SVC_PORT]),
                         ipv6=ipv6)
    scheduler = raw.get(SVC_SCHED_NAME, b"").split(b"\0", 1)[0].decode()
    flags = u32(raw[SVC_FLAGS]) if SVC_FLAGS in raw else 0
    persistent = u32(raw[SVC_TIMEOUT]) if flags & SVC_F_PERSISTENT else None
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


def dest_from(raw: dict[int, bytes], service_family: int) -> tuple[DestKey, DestAttrs]:
    """The destination in a dump answer; its family defaults to its service's."""
    family = u16(raw[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in raw else service_family
    # The raw forwarding bits (pyroute2 0.9.7's IPVSDest.from_message reports a default).
    fwd = u32(raw[DEST_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK
    method = Method(fwd) if fwd in Method._value2member_map_ else Method.ROUTE

    def number(kind: int) -> int:
        return u32(raw[kind]) if kind in raw else 0

    attrs = DestAttrs(method=method, weight=number(DEST_WEIGHT),
                      upper_threshold=number(DEST_U_THRESH),
                      lower_threshold=number(DEST_L_THRESH),
                      active_conns=number(DEST_ACTIVE_CONNS),
                      inactive_conns=number(DEST_INACT_CONNS))
    return DestKey(address(raw[DEST_ADDR], family), be16(raw[DEST_PORT])), attrs


def services_from(answers: Sequence[bytes]) -> list[tuple[ServiceKey, ServiceAttrs]]:
    """The services of a GET_SERVICE dump, in kernel order, without those we never manage."""
    services = (service_from(parse_attrs(parse_attrs(answer)[CMD_ATTR_SERVICE]))
                for answer in answers)
    return [service for service in services if service is not None]


def dests_from(answers: Sequence[bytes], ipv6: bool) -> dict[DestKey, DestAttrs]:
    """The destinations of a GET_DEST dump of a service (`ipv6`: the service's family)."""
    return dict(dest_from(parse_attrs(parse_attrs(answer)[CMD_ATTR_DEST]), _af(ipv6))
                for answer in answers)


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
