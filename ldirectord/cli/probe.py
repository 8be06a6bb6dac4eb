"""`ldirectord --probe [configfile]`: run every configured check once and print the results.

Each check identity runs once (all at once, bounded), and one line is printed per
(virtual, real) pair, in file order:

    tcp:10.0.0.1:80  10.0.0.2:80  http  up  200 OK  0.012s

Exit status: 0 when every checked real is up, 1 when any is down, 2 on config errors
(1 when the file is not found). No IPVS table is read or written.
"""

from __future__ import annotations

import asyncio
import sys

from checkers.base import Result
from ldirectord import engine
from ldirectord.config import load
from ldirectord.config.model import CheckType, Config
from ldirectord.engine import CheckId, RealGroup
from ldirectord.errors import ConfigError
from ldirectord.invocation import ExitCode
from ldirectord.netloc import netloc
from ldirectord.paths import resolve_config
from ldirectord.runtime.realprobes import probes_for, refused_services
from ldirectord.runtime.scheduler import MAX_IN_FLIGHT, LoopClock, guarded


def _service_word(check: RealGroup) -> str:
    vs = check.virtual
    match vs.checktype:
        case CheckType.NEGOTIATE | CheckType.COMBINED:
            return vs.service.value
        case _:
            return vs.checktype.value


async def probe_all(config: Config, max_in_flight: int = MAX_IN_FLIGHT
                    ) -> dict[CheckId, Result]:
    """Run each identity's negotiate check once, concurrently; checktype=off is skipped."""
    slots = asyncio.Semaphore(max_in_flight)
    clock = LoopClock()
    todo = [c for c in engine.real_groups(config) if c.virtual.checktype is not CheckType.OFF]

    async def one(check: RealGroup) -> tuple[CheckId, Result]:
        prepared = probes_for(check)
        async with slots:
            outcome = await guarded(prepared.negotiate, clock, check.id.server)
        return check.id, outcome.result

    return dict(await asyncio.gather(*(one(c) for c in todo)))


def format_lines(config: Config, results: dict[CheckId, Result]) -> list[str]:
    rows: list[tuple[str, ...]] = []
    for check in engine.real_groups(config):
        result = results.get(check.id)
        for virtual, real in check.members:
            server = netloc(real.host, real.port)
            if result is None:
                rows.append((virtual.vid, server, _service_word(check), "off", "not checked",
                             "-"))
                continue
            rows.append((virtual.vid, server, _service_word(check),
                         "up" if result.ok else "down", result.detail or "-",
                         f"{result.elapsed:.3f}s"))
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4], r[5]]) for r in rows]


def run_probe(arg: str) -> int:
    path = resolve_config(arg)
    if path is None:
        print(f"Config file {arg} not found", file=sys.stderr)
        return ExitCode.FAILURE
    try:
        config = load(path)
    except ConfigError as exc:
        for message in exc.errors:
            print(str(message), file=sys.stderr)
        return ExitCode.INVALID
    refused = refused_services(config)
    for text in refused:
        print(text, file=sys.stderr)
    if refused:
        return ExitCode.INVALID
    results = asyncio.run(probe_all(config))
    for line in format_lines(config, results):
        print(line)
    return ExitCode.OK if all(r.ok for r in results.values()) else ExitCode.FAILURE
