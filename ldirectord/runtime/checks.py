"""What one check of a real is: the Target, the CheckSpec, and the coroutine that runs it.

SPEC Part B §3.1–3.2, 3.6: `negotiate` uses the service's checker from checkers.registry
(service none: always up), `connect` a TCP connect (a ping for UDP virtuals), `ping` ICMP
echo with checkcount attempts, `external`/`external-perl` the checkcommand, `on` always up.
The port probed is checkport, else the real's port if > 0, else the service's default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import assert_never

from checkers.base import CheckSpec, Result, Target
from checkers.connect import check_connect
from checkers.external import check_external, external_args
from checkers.ping import check_ping
from checkers.registry import REFUSED, get_checker
from ldirectord.config.model import CheckType, Config, RealServer, Service, VirtualService
from ldirectord.config.perlre import ReceivePattern
from ldirectord.config.services import DEFAULT_PORTS

CheckFn = Callable[[], Awaitable[Result]]


def compile_receive(text: str) -> ReceivePattern | None:
    """The receive regex (translated from Perl by the config package); None when empty."""
    if not text:
        return None
    from ldirectord.config.perlre import compile_perl_regex

    return compile_perl_regex(text)


def target_for(vs: VirtualService, real: RealServer) -> Target:
    if vs.checkport is not None:
        port = vs.checkport
    elif real.port > 0:
        port = real.port
    else:
        port = DEFAULT_PORTS.get(vs.service, 0)
    return Target(real.host, port)


def spec_for(vs: VirtualService, real: RealServer) -> CheckSpec:
    request = real.request if real.request is not None else vs.request
    receive = real.receive if real.receive is not None else vs.receive
    return CheckSpec(
        service=vs.service,
        protocol=vs.protocol,
        request=request,
        receive=compile_receive(receive),
        virtualhost=vs.virtualhost,
        httpmethod=vs.httpmethod,
        login=vs.login,
        passwd=vs.passwd,
        database=vs.database,
        secret=vs.secret,
        checktimeout=vs.checktimeout,
        negotiatetimeout=vs.negotiatetimeout,
    )


async def _always_up() -> Result:
    return Result(True, "", 0.0)


async def _service_none() -> Result:
    return Result(True, "service none", 0.0)


@dataclass(frozen=True, slots=True)
class RealCheck:
    """The prepared checks of one real: the negotiate one and the plain connect one."""

    negotiate: CheckFn
    connect: CheckFn


def prepare(vs: VirtualService, real: RealServer) -> RealCheck:
    """Build the check coroutines for a real of `vs` (the spec is built once, here)."""
    target = target_for(vs, real)
    spec = spec_for(vs, real)

    async def connect() -> Result:
        return await check_connect(target, spec)

    match vs.checktype:
        case CheckType.NEGOTIATE | CheckType.COMBINED:
            checker = get_checker(vs.service)
            if checker is None:
                return RealCheck(_service_none, connect)
            bound = checker

            async def negotiate() -> Result:
                return await bound(target, spec)

            return RealCheck(negotiate, connect)
        case CheckType.CONNECT:
            return RealCheck(connect, connect)
        case CheckType.PING:
            count = vs.checkcount

            async def ping() -> Result:
                return await check_ping(target, spec, count)

            return RealCheck(ping, ping)
        case CheckType.EXTERNAL | CheckType.EXTERNAL_PERL:
            args = external_args(vs.address, vs.port, vs.fwmark, real.host, real.port)
            command = vs.checkcommand

            async def external() -> Result:
                return await check_external(command, args, spec.checktimeout)

            return RealCheck(external, external)
        case CheckType.ON | CheckType.OFF:
            return RealCheck(_always_up, _always_up)
        case _:
            assert_never(vs.checktype)


def refused_services(config: Config) -> list[str]:
    """Errors for virtuals whose negotiate service has no checker (the daemon refuses them)."""
    errors: list[str] = []
    for vs in config.virtuals:
        if vs.checktype not in (CheckType.NEGOTIATE, CheckType.COMBINED):
            continue
        if vs.service is Service.NONE or get_checker(vs.service) is not None:
            continue
        reason = REFUSED.get(vs.service, f"unsupported service: {vs.service.value} "
                                          "(no checker is available)")
        where = f"{vs.where}: " if vs.where.line else f"{config.path}: "
        errors.append(f"{where}virtual {vs.display}: {reason}")
    return errors
