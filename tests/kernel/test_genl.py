"""Our IPVS netlink messages against pyroute2's encoder and decoder (host only, no kernel).

pyroute2 is imported inside the tests: importing it takes many seconds under emulation,
and the VM run collects this module without running it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from pathlib import Path

import pytest

from ldirectord.errors import InvalidArgument, IPVSUnavailable, NotFound
from ldirectord.ipvs import genl
from ldirectord.ipvs.genl import Cmd
from ldirectord.ipvs.memory import MemoryBackend
from ldirectord.ipvs.model import DestAttrs, DestKey, Method, ServiceAttrs, ServiceKey
from ldirectord.ipvs.netlink import map_exceptions
from ldirectord.ipvs.select import ENV_VAR, forced_kind, open_backend
from tests.kernel.entries import fwm, tcp, udp

FULL = 0xFFFFFFFF


def pyroute2_bytes(cmd: int, service: dict[str, object], dest: dict[str, object] | None,
                   key_only: bool) -> bytes:
    """The genl payload pyroute2 0.9.7 builds for the same request."""
    from pyroute2.ipvs import IPVSDest, IPVSService
    from pyroute2.netlink.generic import ipvs as pr_ipvs

    svc = IPVSService(**service)
    msg = pr_ipvs.ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", svc.dump_key() if key_only else svc.dump_nla())]
    if dest is not None:
        msg["attrs"].append(("IPVS_CMD_ATTR_DEST", IPVSDest(**dest).dump_nla()))
    msg.encode()
    return bytes(msg.data[16:])


SERVICES: list[tuple[ServiceKey, ServiceAttrs, dict[str, object]]] = [
    (tcp("10.0.0.1", 80), ServiceAttrs("wrr"),
     {"af": 2, "protocol": 6, "addr": "10.0.0.1", "port": 80, "sched_name": "wrr",
      "flags": {"flags": 0, "mask": FULL}, "timeout": 0, "netmask": "255.255.255.255"}),
    (udp("10.0.4.1", 53), ServiceAttrs("sh", 600, "255.255.255.0", ops=True,
                                       schedflags=frozenset({"sh-port", "sh-fallback"})),
     {"af": 2, "protocol": 17, "addr": "10.0.4.1", "port": 53, "sched_name": "sh",
      "flags": {"flags": 0x1 | 0x4 | 0x8 | 0x10, "mask": FULL}, "timeout": 600,
      "netmask": "255.255.255.0"}),
    # an IPv6 prefix length is sent in host byte order: 64 is "64.0.0.0" on little endian
    (tcp("2001:db8::1", 443), ServiceAttrs("mh", 30, "64", schedflags=frozenset({"mh-port"})),
     {"af": 10, "protocol": 6, "addr": "2001:db8::1", "port": 443, "sched_name": "mh",
      "flags": {"flags": 0x1 | 0x10, "mask": FULL}, "timeout": 30,
      "netmask": socket.inet_ntoa((64).to_bytes(4, "little"))}),
    (fwm(8, ipv6=True), ServiceAttrs("rr"),
     {"af": 10, "fwmark": 8, "sched_name": "rr", "flags": {"flags": 0, "mask": FULL},
      "timeout": 0, "netmask": socket.inet_ntoa((128).to_bytes(4, "little"))}),
]


@pytest.mark.parametrize(("key", "attrs", "fields"), SERVICES, ids=str)
def test_service_messages_match_pyroute2(
    key: ServiceKey, attrs: ServiceAttrs, fields: dict[str, object]
) -> None:
    ours = genl.genl_payload(Cmd.NEW_SERVICE, genl.service_attrs(key, attrs))
    assert ours == pyroute2_bytes(Cmd.NEW_SERVICE, fields, None, key_only=False)
    ours_key = genl.genl_payload(Cmd.DEL_SERVICE, genl.service_key_attrs(key))
    assert ours_key == pyroute2_bytes(Cmd.DEL_SERVICE, fields, None, key_only=True)


@pytest.mark.parametrize(("dest", "attrs", "fields"), [
    (DestKey("10.0.0.2", 8080), DestAttrs(Method.MASQ, 5, 100, 20),
     {"addr": "10.0.0.2", "port": 8080, "fwd_method": 0, "weight": 5, "u_thresh": 100,
      "l_thresh": 20}),
    (DestKey("2001:db8::2", 443), DestAttrs(Method.TUNNEL, 70000),
     {"addr": "2001:db8::2", "port": 443, "fwd_method": 2, "weight": 70000, "u_thresh": 0,
      "l_thresh": 0}),
], ids=["v4-masq", "v6-ipip"])
def test_dest_messages_match_pyroute2(
    dest: DestKey, attrs: DestAttrs, fields: dict[str, object]
) -> None:
    service = SERVICES[0][2]
    ours = genl.genl_payload(Cmd.SET_DEST, genl.service_key_attrs(SERVICES[0][0]),
                             genl.dest_attrs(dest, attrs))
    theirs = pyroute2_bytes(Cmd.SET_DEST, service, fields, key_only=True)
    assert ours[:4] == theirs[:4]  # genl header

    def nested(payload: bytes) -> dict[int, dict[int, bytes]]:
        return {k: genl.parse_attrs(v) for k, v in genl.parse_attrs(payload, 4).items()}

    # pyroute2 orders attributes differently and adds its tunnel defaults (type, port,
    # flags: 0), which the kernel also assumes when they are absent.
    tunnel = {13: b"\0", 14: b"\0\0", 15: b"\0\0"}
    expected = nested(theirs)
    assert {k: v for k, v in expected[2].items() if k in tunnel} == tunnel
    expected[2] = {k: v for k, v in expected[2].items() if k not in tunnel}
    assert nested(ours) == expected


def kernel_style(attrs: list[tuple[str, object]], kind: str) -> bytes:
    """Encode a service or dest attribute list the way the kernel's dump would (pyroute2)."""
    from pyroute2.netlink.generic import ipvs as pr_ipvs

    nla = getattr(pr_ipvs.ipvsmsg, kind)()
    nla["attrs"] = attrs
    nla.encode()
    return bytes(nla.data[4:])  # without the nesting header


def test_decode_services_and_dests_encoded_by_pyroute2() -> None:
    svc = kernel_style([
        ("IPVS_SVC_ATTR_AF", 10), ("IPVS_SVC_ATTR_PROTOCOL", 17),
        ("IPVS_SVC_ATTR_ADDR", "2001:db8::53"), ("IPVS_SVC_ATTR_PORT", 53),
        ("IPVS_SVC_ATTR_SCHED_NAME", "sh"),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x1 | 0x2 | 0x4 | 0x20, "mask": FULL}),
        ("IPVS_SVC_ATTR_TIMEOUT", 90),
        ("IPVS_SVC_ATTR_NETMASK", socket.inet_ntoa((48).to_bytes(4, "little"))),
    ], "service")
    service = genl.service_from(genl.parse_attrs(svc))
    assert service is not None
    key, attrs = service
    assert key == udp("2001:db8::53", 53)
    assert attrs == ServiceAttrs("sh", 90, "48", ops=True, schedflags=frozenset({"flag-3"}))
    mark = kernel_style([("IPVS_SVC_ATTR_AF", 2), ("IPVS_SVC_ATTR_FWMARK", 7),
                         ("IPVS_SVC_ATTR_SCHED_NAME", "wrr"),
                         ("IPVS_SVC_ATTR_FLAGS", {"flags": 0x2, "mask": FULL}),
                         ("IPVS_SVC_ATTR_TIMEOUT", 0),
                         ("IPVS_SVC_ATTR_NETMASK", "255.255.255.255")],
                        "service")
    assert genl.service_from(genl.parse_attrs(mark)) == (fwm(7), ServiceAttrs("wrr"))
    dest = kernel_style([
        ("IPVS_DEST_ATTR_ADDR", "10.0.0.7"), ("IPVS_DEST_ATTR_PORT", 443),
        ("IPVS_DEST_ATTR_FWD_METHOD", 2 | 0x100), ("IPVS_DEST_ATTR_WEIGHT", 4),
        ("IPVS_DEST_ATTR_U_THRESH", 9), ("IPVS_DEST_ATTR_L_THRESH", 3),
        ("IPVS_DEST_ATTR_ACTIVE_CONNS", 5), ("IPVS_DEST_ATTR_INACT_CONNS", 6),
        ("IPVS_DEST_ATTR_ADDR_FAMILY", 2),
    ], "dest")
    dkey, dattrs = genl.dest_from(genl.parse_attrs(dest), socket.AF_INET6)
    assert (dkey, dattrs) == (DestKey("10.0.0.7", 443), DestAttrs(Method.TUNNEL, 4, 9, 3))
    assert (dattrs.active_conns, dattrs.inactive_conns) == (5, 6)


def test_errno_mapping() -> None:
    with pytest.raises(NotFound) as caught, map_exceptions(None):
        raise genl.NetlinkRefused(3, "No such process")
    assert caught.value.op is None
    with pytest.raises(InvalidArgument), map_exceptions(None):
        raise genl.NetlinkRefused(34, "Numerical result out of range")


def test_ack_with_error_raises() -> None:
    body = struct.pack("=i", -17)
    with pytest.raises(genl.NetlinkRefused) as caught:
        genl._raise_error(body)
    assert caught.value.errno == 17


def test_backend_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "memory")
    assert forced_kind() is not None
    backend = asyncio.run(open_backend())
    assert isinstance(backend, MemoryBackend)
    monkeypatch.setenv(ENV_VAR, "bogus")
    with pytest.raises(InvalidArgument):
        forced_kind()


def _kernel_may_have_ipvs() -> bool:
    # Opening a backend loads ip_vs where it exists as a module, so look before touching it.
    modules = Path("/lib/modules") / os.uname().release / "kernel/net/netfilter/ipvs"
    return Path("/proc/net/ip_vs").exists() or modules.exists()


@pytest.mark.skipif(_kernel_may_have_ipvs(), reason="this kernel has (or can load) IPVS")
def test_no_ipvs_means_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(IPVSUnavailable) as caught:
        asyncio.run(open_backend())
    assert "netlink" in str(caught.value) and "ipvsadm" in str(caught.value)
