"""Check identities: what is checked once and applied to every virtual that holds the real.

The original checks a real once per round per *real id* (SPEC B §3.8) and applies the
result to every virtual containing a real with the same id. `CheckId` is that id as a
frozen value; `RealGroup` is one identity with the (virtual, real) pairs it feeds, the
first pair being the one whose settings (timeouts, login, failurecount, ...) the check
uses.
Health is kept per `CheckId`, so a reload keeps the health of every identity present in
both files (Part A §4) simply by looking it up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ldirectord.config.keys import real_key, service_key
from ldirectord.config.model import (
    CheckType,
    Config,
    Forwarding,
    IpvsProtocol,
    RealServer,
    Service,
    VirtualService,
)
from ldirectord.engine.health import Health, Policy, Status
from ldirectord.ipvs.model import Table
from ldirectord.netloc import bracketed, netloc

__all__ = ["CheckId", "RealGroup", "carry_health", "check_id", "initial_health", "real_groups"]


@dataclass(frozen=True, slots=True)
class CheckId:
    """The original's real id as a value (SPEC B §3.8).

    `service` is set only for negotiate/combined checks and `command` only for
    external/external-perl ones, so that, as in the original, two virtuals that check the
    same real the same way share one identity. `request`/`receive` are the effective
    ones (the real's override, else the virtual's).
    """

    checktype: CheckType
    service: Service | None
    command: str | None
    protocol: IpvsProtocol
    host: str  # literal, IPv6 without brackets
    port: int  # as configured (0 when omitted)
    virtualhost: str | None
    checkport: int | None
    weight: int
    forwarding: Forwarding
    request: str
    receive: str
    # Identities are dictionary keys looked up for every real at every reconcile: the
    # hash of twelve fields is computed once.
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((
            self.checktype, self.service, self.command, self.protocol, self.host, self.port,
            self.virtualhost, self.checkport, self.weight, self.forwarding, self.request,
            self.receive)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def server(self) -> str:
        """`<RIP>:<port>` as the original's log lines write it (IPv6 in brackets)."""
        return netloc(self.host, self.port)

    @property
    def text(self) -> str:
        """The original's id string, e.g. `negotiate:http:tcp:10.0.0.2:80:::1:gate:\\/:`.

        The monitor file prints it with runs of ':' squeezed to one space and the
        backslashes removed (SPEC B §5.5).
        """
        match self.checktype:
            case CheckType.NEGOTIATE | CheckType.COMBINED:
                check = f"{self.checktype.value}:{self.service}"
            case CheckType.EXTERNAL | CheckType.EXTERNAL_PERL:
                check = f"{self.checktype.value}:{self.command}"
            case _:
                check = self.checktype.value
        checkport = "" if self.checkport is None else str(self.checkport)
        return ":".join((
            check, self.protocol.value, bracketed(self.host), str(self.port),
            self.virtualhost or "", checkport, str(self.weight), self.forwarding.value,
            _quotemeta(self.request), _quotemeta(self.receive),
        ))


@dataclass(frozen=True, slots=True)
class RealGroup:
    """One check identity and every (virtual, real) pair its result applies to."""

    id: CheckId
    members: tuple[tuple[VirtualService, RealServer], ...]

    @property
    def virtual(self) -> VirtualService:
        """The first virtual holding the real: its settings drive the check."""
        return self.members[0][0]

    @property
    def real(self) -> RealServer:
        return self.members[0][1]

    @property
    def policy(self) -> Policy:
        """failurecount and combined N, from the first virtual."""
        v = self.virtual
        combined = v.negotiate_every if v.checktype is CheckType.COMBINED else None
        return Policy(failurecount=v.failurecount, combined=combined)


def check_id(virtual: VirtualService, real: RealServer) -> CheckId:
    """The check identity of `real` inside `virtual`."""
    kind = virtual.checktype
    service = virtual.service if kind in (CheckType.NEGOTIATE, CheckType.COMBINED) else None
    command = (virtual.checkcommand
               if kind in (CheckType.EXTERNAL, CheckType.EXTERNAL_PERL) else None)
    return CheckId(
        checktype=kind,
        service=service,
        command=command,
        protocol=virtual.protocol,
        host=real.host,
        port=real.port,
        virtualhost=virtual.virtualhost,
        checkport=virtual.checkport,
        weight=real.weight,
        forwarding=real.forwarding,
        request=real.request if real.request is not None else virtual.request,
        receive=real.receive if real.receive is not None else virtual.receive,
    )


def real_groups(config: Config) -> tuple[RealGroup, ...]:
    """Every check identity of `config`, in file order of first appearance.

    Identities of checktype=off virtuals are listed too (the runtime runs no check for
    them; see planner.py for what off means for the table).
    """
    members: dict[CheckId, list[tuple[VirtualService, RealServer]]] = {}
    for virtual in config.virtuals:
        for real in virtual.reals:
            members.setdefault(check_id(virtual, real), []).append((virtual, real))
    return tuple(RealGroup(cid, tuple(pairs)) for cid, pairs in members.items())


def initial_health(config: Config, actual: Table) -> dict[CheckId, Health]:
    """Health at start: UP for an identity whose real is in service (weight > 0) in the
    current table in every virtual holding it (Part A §2: treated as up until checks say
    otherwise); identities not listed are UNKNOWN.
    """
    return {c.id: UP for c in real_groups(config) if all(_in_service(v, r, actual)
                                                     for v, r in c.members)}


def carry_health(
    old: Mapping[CheckId, Health], config: Config, actual: Table
) -> dict[CheckId, Health]:
    """Health after a reload: every identity of `config` present in `old` keeps its health
    (Part A §4); new identities start as `initial_health` would start them.
    """
    fresh = initial_health(config, actual)
    carried: dict[CheckId, Health] = {}
    for group in real_groups(config):
        health = old.get(group.id, fresh.get(group.id))
        if health is not None:
            carried[group.id] = health
    return carried


UP = Health(Status.UP)


def _in_service(virtual: VirtualService, real: RealServer, actual: Table) -> bool:
    entry = actual.get(service_key(virtual))
    if entry is None:
        return False
    attrs = entry.dests.get(real_key(virtual, real))
    return attrs is not None and attrs.weight > 0


def _quotemeta(text: str) -> str:
    """Perl's quotemeta: a backslash before every character that is not a word character."""
    return _QUOTEMETA.sub(r"\\\1", text)


_QUOTEMETA = re.compile(r"([^A-Za-z0-9_])")
