"""The probes of a check identity: its target, its spec, and the checker each round runs."""

from __future__ import annotations

import dataclasses

import pytest

from checkers.base import CheckSpec, Target
from ldirectord import engine
from ldirectord.config.model import CheckType, Service, VirtualService
from ldirectord.engine import RealGroup
from ldirectord.runtime.realprobes import VIRTUAL_FIELDS, probes_for, spec_for, target_for
from tests.protocols import faults
from tests.unit.engine.factories import config, real, virtual


def only_check(vs: VirtualService) -> RealGroup:
    (check,) = engine.real_groups(config(vs))
    return check


def test_spec_fields_copied_from_the_virtual_have_its_types() -> None:
    # spec_for copies these by name: a CheckSpec field must mean the directive it is named by.
    spec = {f.name: f.type for f in dataclasses.fields(CheckSpec)}
    vs = {f.name: f.type for f in dataclasses.fields(VirtualService)}
    assert {"service", "checktimeout", "checkcount", "checkcommand"} <= set(VIRTUAL_FIELDS)
    assert {name: spec[name] for name in VIRTUAL_FIELDS} == {
        name: vs.get(name) for name in VIRTUAL_FIELDS}


def test_spec_takes_the_real_overrides_and_the_external_arguments() -> None:
    vs = virtual((real("2001:db8::2", 8080, request="/real", receive="up"),), address="2001:db8::1",
                 ipv6=True, service=Service.HTTPS, request="/vs", receive="", checkcount=3,
                 checkcommand="/usr/local/bin/probe", login="u", checktimeout=2.5)
    spec = spec_for(only_check(vs))
    assert (spec.service, spec.request, spec.login, spec.checktimeout) == (
        Service.HTTPS, "/real", "u", 2.5)
    assert spec.receive is not None and spec.receive.search(b"it is up")
    assert (spec.checkcount, spec.checkcommand) == (3, "/usr/local/bin/probe")
    assert spec.commandargs == ("[2001:db8::1]", "80", "[2001:db8::2]", "8080")


@pytest.mark.parametrize(("checkport", "port", "service", "expected"), [
    (9000, 8080, Service.HTTP, 9000),
    (None, 8080, Service.HTTP, 8080),
    (None, 0, Service.HTTPS, 443),
    (None, 0, Service.SIMPLETCP, 0),
])
def test_target_port(checkport: int | None, port: int, service: Service, expected: int) -> None:
    vs = virtual((real("10.0.0.2", port),), service=service, checkport=checkport)
    assert target_for(only_check(vs)) == Target("10.0.0.2", expected)


@pytest.mark.asyncio
@pytest.mark.parametrize(("checktype", "service", "detail"), [
    (CheckType.ON, Service.HTTP, ""),
    (CheckType.OFF, Service.HTTP, ""),
    (CheckType.NEGOTIATE, Service.NONE, "service none"),
    (CheckType.COMBINED, Service.NONE, "service none"),
    (CheckType.EXTERNAL, Service.NONE, "exit 0"),
    (CheckType.EXTERNAL_PERL, Service.NONE, "exit 0"),
], ids=str)
async def test_negotiate_rounds(checktype: CheckType, service: Service, detail: str) -> None:
    vs = virtual((real("10.0.0.2"),), checktype=checktype, service=service,
                 checkcommand="/bin/true")
    result = await probes_for(only_check(vs)).negotiate()
    assert (result.ok, result.detail) == (True, detail)


@pytest.mark.asyncio
async def test_connect_rounds_of_negotiate_types_connect() -> None:
    target = faults.refused_target()
    vs = virtual((real(target.host, target.port),), checktype=CheckType.COMBINED,
                 service=Service.NONE)
    probes = probes_for(only_check(vs))
    assert (await probes.negotiate()).detail == "service none"
    connected = await probes.connect()
    assert not connected.ok and "refused" in connected.detail, connected


@pytest.mark.asyncio
@pytest.mark.parametrize("checktype", [CheckType.EXTERNAL, CheckType.ON], ids=str)
async def test_other_types_run_their_checker_in_both_rounds(checktype: CheckType) -> None:
    vs = virtual((real("10.0.0.2"),), checktype=checktype, checkcommand="/bin/false")
    probes = probes_for(only_check(vs))
    connected, negotiated = await probes.connect(), await probes.negotiate()
    assert (connected.ok, connected.detail) == (negotiated.ok, negotiated.detail)

