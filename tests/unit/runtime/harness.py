"""A supervisor on the memory backend, a virtual clock and scripted checks, for runtime tests."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from checkers.base import Result
from ldirectord.config.model import (
    CheckType,
    Config,
    Fallback,
    Forwarding,
    IpvsProtocol,
    RealServer,
    Service,
    VirtualService,
)
from ldirectord.engine import RealGroup
from ldirectord.ipvs.memory import MemoryBackend
from ldirectord.ipvs.model import ServiceKey
from ldirectord.runtime.realprobes import RealProbes
from ldirectord.runtime.supervisor import Supervisor
from tests.unit.runtime.fakeclock import FakeClock, settle

VIP = "10.0.0.1"
KEY = ServiceKey(IpvsProtocol.TCP, VIP, 80)


def virtual(*hosts: str, quiescent: bool = False, fallback: bool = True,
            interval: float = 5.0, **kw: object) -> VirtualService:
    reals = tuple(RealServer(h, 80, Forwarding.MASQ) for h in hosts)
    vs = VirtualService(
        protocol=IpvsProtocol.TCP, address=VIP, port=80, fwmark=None, ipv6=False, reals=reals,
        service=Service.HTTP, checkinterval=interval, quiescent=quiescent,
        fallback=Fallback("127.0.0.1", 80, Forwarding.MASQ) if fallback else None,
    )
    return replace(vs, **kw)  # type: ignore[arg-type]


#: A file the config watcher can stat and read without ever seeing it change.
CONFIG_PATH = os.devnull


def config(*virtuals: VirtualService, path: str = CONFIG_PATH, **kw: object) -> Config:
    return replace(Config(path=path, virtuals=virtuals), **kw)  # type: ignore[arg-type]


@dataclass
class Script:
    """What each real answers: `up[host]`; `raises` hosts make the checker raise;
    `delay[host]` makes the check take that long on the virtual clock."""

    clock: FakeClock
    up: dict[str, bool] = field(default_factory=dict)
    raises: set[str] = field(default_factory=set)
    delay: dict[str, float] = field(default_factory=dict)
    calls: list[tuple[float, str, str]] = field(default_factory=list)

    def prepare(self, check: RealGroup) -> RealProbes:
        host = check.real.host

        def make(kind: str) -> Callable[[], asyncio.Future[Result] | object]:
            async def run() -> Result:
                self.calls.append((self.clock.now(), host, kind))
                if host in self.raises:
                    raise RuntimeError("checker bug")
                await self.clock.sleep(self.delay.get(host, 0.0))
                ok = self.up.get(host, True)
                return Result(ok, "up" if ok else "HTTP 503", 0.0)
            return run

        return RealProbes(make("negotiate"), make("connect"))  # type: ignore[arg-type]


class Harness:
    """Runs a Supervisor in a task; the test drives the clock and reads the table and log."""

    def __init__(self, cfg: Config, caplog: object, *, seed: object | None = None,
                 loader: Callable[[str], Config] | None = None,  # called synchronously
                 jitter: Callable[[float], float] | None = None) -> None:
        self.clock = FakeClock()
        self.script = Script(self.clock)
        self.backend = MemoryBackend(seed) if seed is not None else MemoryBackend()
        self.caplog = caplog
        caplog.set_level(logging.DEBUG, logger="ldirectord")  # type: ignore[attr-defined]
        self.loaded: list[Config] = []
        kwargs: dict[str, object] = {}
        if loader is not None:
            sync_loader = loader

            async def load(path: str) -> Config:
                return sync_loader(path)

            kwargs["loader"] = load
        self.sup = Supervisor(cfg, self.backend, clock=self.clock,
                              prepare_check=self.script.prepare,
                              jitter=jitter or (lambda interval: 0.0), signals=False,
                              **kwargs)  # type: ignore[arg-type]
        self.task: asyncio.Task[int] | None = None
        self.ready = False

    async def start(self) -> None:
        self.sup._on_ready = self._mark_ready
        self.task = asyncio.create_task(self.sup.run())
        await settle()

    def _mark_ready(self) -> None:
        self.ready = True

    async def stop(self, signame: str = "TERM") -> int:
        assert self.task is not None
        self.sup.request_stop(signame)
        await self.clock.advance(0)
        return await asyncio.wait_for(self.task, 10)

    async def table(self) -> dict[str, int]:
        """`RIP:port -> weight` of the test virtual (empty if the virtual is absent)."""
        table = await self.backend.read()
        entry = table.get(KEY)
        if entry is None:
            return {}
        return {str(k): v.weight for k, v in entry.dests.items()}

    def lines(self) -> list[str]:
        records = self.caplog.records  # type: ignore[attr-defined]
        return [r.getMessage() for r in records
                if r.name == "ldirectord" and r.levelno >= logging.INFO]

    def take_lines(self) -> list[str]:
        out = self.lines()
        self.caplog.clear()  # type: ignore[attr-defined]
        return out


__all__ = ["KEY", "VIP", "CheckType", "Harness", "config", "virtual"]
