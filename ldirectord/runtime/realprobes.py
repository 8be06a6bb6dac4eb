"""The probes of one check identity: its Target, its CheckSpec and the checkers that run it.

SPEC Part B §3.1–3.2, 3.6: checkers.registry gives each check type its checker (negotiate:
the service's, service none always up; connect: a TCP connect, a ping for UDP virtuals;
ping: ICMP echo with checkcount attempts; external/external-perl: the checkcommand; on:
always up). The plain connect rounds of combined checks (checktype=N) connect; every other
type runs its one checker in both kinds of round. The port probed is checkport, else the
real's port if > 0, else the service's default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from functools import partial
from typing import Final

from checkers.base import CheckSpec, Result, Target
from checkers.connect import check_connect
from checkers.external import external_args
from checkers.registry import checker_for, get_checker
from ldirectord.config.model import CheckType, Config, Service
from ldirectord.config.perlre import ReceivePattern, compile_perl_regex
from ldirectord.config.services import DEFAULT_PORTS, REFUSED
from ldirectord.engine import RealGroup

#: One round of a check, ready to run: no arguments, the Result.
ProbeFn = Callable[[], Awaitable[Result]]

_NEGOTIATING = (CheckType.NEGOTIATE, CheckType.COMBINED)
_PER_REAL = frozenset({"request", "receive", "commandargs"})
#: The CheckSpec fields copied from the virtual's directive of the same name (a unit test
#: holds their types equal), so a directive a checker needs is one field of CheckSpec.
VIRTUAL_FIELDS: Final = tuple(f.name for f in fields(CheckSpec) if f.name not in _PER_REAL)


def compile_receive(text: str) -> ReceivePattern | None:
    """The receive regex (translated from Perl by the config package); None when empty."""
    return compile_perl_regex(text) if text else None


def target_for(group: RealGroup) -> Target:
    """Where the identity's checks go: the first member real, on the port probed."""
    vs, real = group.virtual, group.real
    if vs.checkport is not None:
        port = vs.checkport
    elif real.port > 0:
        port = real.port
    else:
        port = DEFAULT_PORTS.get(vs.service, 0)
    return Target(real.host, port)


def spec_for(group: RealGroup) -> CheckSpec:
    """The first member virtual's settings, with the identity's effective request and
    receive, and the arguments an external command is given."""
    vs, real = group.virtual, group.real
    settings = {name: getattr(vs, name) for name in VIRTUAL_FIELDS}
    return CheckSpec(
        **settings,
        request=group.id.request,
        receive=compile_receive(group.id.receive),
        commandargs=external_args(vs.address, vs.port, vs.fwmark, real.host, real.port),
    )


@dataclass(frozen=True, slots=True)
class RealProbes:
    """Both kinds of round of one identity (engine.Probe says which runs next)."""

    negotiate: ProbeFn
    connect: ProbeFn


def probes_for(group: RealGroup) -> RealProbes:
    """The probes of `group` (its target and spec are built once, here)."""
    target, spec = target_for(group), spec_for(group)
    kind = group.virtual.checktype
    checker = checker_for(kind, group.virtual.service)
    connect = check_connect if kind in _NEGOTIATING else checker
    return RealProbes(partial(checker, target, spec), partial(connect, target, spec))


def refused_services(config: Config) -> list[str]:
    """Errors for virtuals whose negotiate service has no checker (the daemon refuses them)."""
    errors: list[str] = []
    for vs in config.virtuals:
        if vs.checktype not in _NEGOTIATING:
            continue
        if vs.service is Service.NONE or get_checker(vs.service) is not None:
            continue
        reason = REFUSED.get(vs.service, f"unsupported service: {vs.service.value} "
                                          "(no checker is available)")
        where = f"{vs.where}: " if vs.where.line else f"{config.path}: "
        errors.append(f"{where}virtual {vs.display}: {reason}")
    return errors
