"""The checker contract: where to check (Target), how (CheckSpec), and the outcome (Result).

A checker never raises for anything a server does: refused, reset, timeout, garbage, TLS
failure and oversized replies all become ``Result(ok=False, detail=...)``. It bounds every
await by the spec's timeouts, reads bounded amounts, and closes what it opened. Only a bug
in our own code may raise; the daemon turns that into a failed check with a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from ldirectord.config.model import HttpMethod, IpvsProtocol, Service
from ldirectord.config.perlre import ReceivePattern
from ldirectord.netloc import netloc


@dataclass(frozen=True, slots=True)
class Target:
    """Where to check: the real server, or checkport overriding its port."""

    host: str  # literal address; IPv6 without brackets
    port: int

    @property
    def netloc(self) -> str:
        """`host:port`, with IPv6 hosts in brackets."""
        return netloc(self.host, self.port)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What to check, taken from the virtual service (and per-real overrides).

    Each checker reads the fields it needs: ping its checkcount, external its checkcommand
    and the arguments the original passes it, the negotiate checkers the rest.
    """

    service: Service
    protocol: IpvsProtocol = IpvsProtocol.TCP  # the virtual's protocol; FWM services check over TCP
    request: str = "/"  # always starts with "/" unless it is an absolute URL
    receive: ReceivePattern | None = None  # None: receive was empty; match with checkers.match
    virtualhost: str | None = None
    httpmethod: HttpMethod = HttpMethod.GET
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""
    checktimeout: float = 5.0
    negotiatetimeout: float = 30.0
    checkcount: int = 1  # ping: attempts, each within checktimeout
    checkcommand: str = ""  # external: the program run
    commandargs: tuple[str, ...] = ()  # external: VIP VPORT RIP RPORT, as the original


@dataclass(frozen=True, slots=True)
class Result:
    """One check outcome; `detail` is one line for the log and the monitor file."""

    ok: bool
    detail: str
    elapsed: float  # seconds
    weight: int | None = None  # only checkers that may set a weight use it


class Checker(TypingProtocol):
    """A checker: one coroutine that checks one target (every check type has one)."""

    async def __call__(self, target: Target, spec: CheckSpec) -> Result: ...
