"""Check identities (SPEC B §3.8), kernel keys (port mapping) and health carried over reloads."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ldirectord.config.keys import dest_key, service_attrs, service_key
from ldirectord.config.model import CheckType, Forwarding, IpvsProtocol, Service
from ldirectord.engine import (
    Health,
    Policy,
    Status,
    carry_health,
    check_id,
    initial_health,
    real_groups,
)
from ldirectord.ipvs.model import DestAttrs, DestKey, Method, ServiceAttrs, ServiceKey

from .factories import config, entry, fallback, real, tcp, virtual


@pytest.mark.parametrize(
    ("kind", "fwd", "port"),
    list(itertools.product(["tcp", "udp", "fwm"], list(Forwarding), [0, 80, 8080])),
)
def test_port_mapping_truth_table(kind: str, fwd: Forwarding, port: int) -> None:
    if kind == "fwm":
        v = virtual(fwmark=7)
    else:
        v = virtual(protocol=IpvsProtocol(kind), port=80)
    key = dest_key(v, "10.0.0.2", port, fwd)
    # what ipvsadm -a -r 10.0.0.2:<port> leaves in the kernel
    if kind != "fwm" and fwd in (Forwarding.GATE, Forwarding.IPIP):
        assert key == DestKey("10.0.0.2", 80)
    else:
        assert key == DestKey("10.0.0.2", port)


def test_service_keys() -> None:
    assert service_key(virtual(port=443)) == ServiceKey(IpvsProtocol.TCP, "10.0.0.1", 443)
    assert service_key(virtual(protocol=IpvsProtocol.UDP, port=53)) == ServiceKey(
        IpvsProtocol.UDP, "10.0.0.1", 53)
    assert service_key(virtual(fwmark=7, ipv6=True)) == ServiceKey(
        IpvsProtocol.FWM, None, 0, 7, True)
    assert service_key(virtual(address="2001:db8::1", ipv6=True)) == ServiceKey(
        IpvsProtocol.TCP, "2001:db8::1", 80, None, True)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ServiceAttrs("wrr")),
        ({"scheduler": "sh", "schedflags": "sh-port,sh-fallback"},
         ServiceAttrs("sh", schedflags=frozenset({"sh-port", "sh-fallback"}))),
        ({"persistent": 600, "netmask": "255.255.255.0"},
         ServiceAttrs(persistent=600, netmask="255.255.255.0")),
        ({"persistent": 600, "netmask": "255.255.255.255"}, ServiceAttrs(persistent=600)),
        ({"netmask": "255.255.255.0"}, ServiceAttrs()),  # -M only goes with -p
        ({"ops": True}, ServiceAttrs()),  # -o only for UDP
    ],
)
def test_service_attrs(kwargs: dict[str, Any], expected: ServiceAttrs) -> None:
    assert service_attrs(virtual(**kwargs)) == expected


def test_udp_ops_kept() -> None:
    assert service_attrs(virtual(protocol=IpvsProtocol.UDP, ops=True)).ops


def test_same_real_same_check_is_one_identity() -> None:
    r = real("10.0.0.2", 80)
    a = virtual((r,), port=80, failurecount=3)
    b = virtual((r,), address="10.0.0.9", port=80)
    found = real_groups(config(a, b))
    assert len(found) == 1
    assert [m[0] for m in found[0].members] == [a, b]
    assert found[0].virtual is a
    assert found[0].policy == Policy(failurecount=3)


@pytest.mark.parametrize(
    "change",
    [
        {"weight": 2},
        {"fwd": Forwarding.GATE},
        {"request": "/other"},
        {"receive": "ok"},
        {"port": 81},
    ],
)
def test_real_fields_in_the_id_split_identities(change: dict[str, object]) -> None:
    base = {"host": "10.0.0.2", "port": 80}
    a = virtual((real(**base),))  # type: ignore[arg-type]
    b = virtual((real(**{**base, **change}),), address="10.0.0.9")  # type: ignore[arg-type]
    assert len(real_groups(config(a, b))) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"service": Service.SMTP},
        {"checktype": CheckType.CONNECT},
        {"virtualhost": "www.example.com"},
        {"checkport": 8080},
        {"protocol": IpvsProtocol.UDP},
        {"request": "/other"},
    ],
)
def test_virtual_fields_in_the_id_split_identities(change: dict[str, object]) -> None:
    r = real("10.0.0.2", 80)
    a = virtual((r,))
    b = virtual((r,), **{"address": "10.0.0.9", **change})  # type: ignore[arg-type]
    assert len(real_groups(config(a, b))) == 2


def test_settings_outside_the_id_do_not_split() -> None:
    r = real("10.0.0.2", 80)
    a = virtual((r,), negotiatetimeout=3.0, login="x")
    b = virtual((r,), address="10.0.0.9", negotiatetimeout=9.0, quiescent=True)
    assert len(real_groups(config(a, b))) == 1


def test_service_only_counts_for_negotiate() -> None:
    r = real("10.0.0.2", 80)
    a = virtual((r,), checktype=CheckType.CONNECT, service=Service.HTTP)
    b = virtual((r,), address="10.0.0.9", checktype=CheckType.CONNECT, service=Service.FTP)
    assert len(real_groups(config(a, b))) == 1


def test_id_text_is_the_originals() -> None:
    v = virtual((real("10.0.0.2", 18080, weight=3, request="/index.html",
                      receive="Test Page"),))
    assert check_id(v, v.reals[0]).text == (
        "negotiate:http:tcp:10.0.0.2:18080:::3:masq:\\/index\\.html:Test\\ Page")
    ext = virtual((real("2001:db8::2", 80, Forwarding.GATE),), checktype=CheckType.EXTERNAL,
                  checkcommand="/bin/chk", checkport=81, virtualhost="h")
    assert check_id(ext, ext.reals[0]).text == (
        "external:/bin/chk:tcp:[2001:db8::2]:80:h:81:1:gate:\\/:")
    on = virtual((real("10.0.0.2"),), checktype=CheckType.ON)
    assert check_id(on, on.reals[0]).text.startswith("on:tcp:10.0.0.2:80:")


def test_combined_policy() -> None:
    v = virtual((real("10.0.0.2"),), checktype=CheckType.COMBINED, negotiate_every=4,
                failurecount=2)
    assert real_groups(config(v))[0].policy == Policy(failurecount=2, combined=4)


def test_initial_health_marks_reals_in_service_up() -> None:
    up, zero, absent = real("10.0.0.2"), real("10.0.0.3"), real("10.0.0.4")
    v = virtual((up, zero, absent), fallback=fallback())
    table = {tcp(): entry({DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 5),
                           DestKey("10.0.0.3", 80): DestAttrs(Method.MASQ, 0)})}
    health = initial_health(config(v), table)
    assert health == {check_id(v, up): Health(Status.UP)}


def test_initial_health_needs_every_virtual() -> None:
    r = real("10.0.0.2")
    a, b = virtual((r,)), virtual((r,), address="10.0.0.9")
    table = {tcp(): entry({DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 1)})}
    assert initial_health(config(a, b), table) == {}


def test_carry_health_keeps_shared_identities_only() -> None:
    kept, dropped, new = real("10.0.0.2"), real("10.0.0.3"), real("10.0.0.4")
    old_v = virtual((kept, dropped))
    new_v = virtual((kept, new))
    old = {check_id(old_v, kept): Health(Status.UP, 2),
           check_id(old_v, dropped): Health(Status.DOWN, 1)}
    table = {tcp(): entry({DestKey("10.0.0.4", 80): DestAttrs(Method.MASQ, 1)})}
    carried = carry_health(old, config(new_v), table)
    assert carried == {check_id(new_v, kept): Health(Status.UP, 2),
                       check_id(new_v, new): Health(Status.UP)}


def test_real_id_hash_follows_equality() -> None:
    v = virtual((real("10.0.0.2"),))
    a, b = check_id(v, v.reals[0]), check_id(virtual((real("10.0.0.2"),)), real("10.0.0.2"))
    assert a == b and hash(a) == hash(b) and a is not b
    assert {a: 1}[b] == 1
    assert hash(check_id(v, real("10.0.0.3"))) != hash(a)


def test_layout_is_memoised_per_config_object_only() -> None:
    from ldirectord.engine.layout import layout

    cfg = config(virtual((real("10.0.0.2"),), fallback=fallback()))
    assert layout(cfg) is layout(cfg)
    twin = config(virtual((real("10.0.0.2"),), fallback=fallback()))
    assert layout(twin) == layout(cfg)
    other = config(virtual((real("10.0.0.3"),)))
    assert layout(other)[0].reals[0].key == DestKey("10.0.0.3", 80)
    assert layout(cfg)[0].reals[0].key == DestKey("10.0.0.2", 80)
