"""The parser's valid sample configs go through the engine: cold start, all up, all down.

Each step must be accepted by the kernel-faithful memory table and end at a fixpoint.
Virtuals whose scheduler flags the kernel refuses (a parser test may write them) are left
out: refusing them is the backend's job, not the engine's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ldirectord import engine
from ldirectord.config import keys, load
from ldirectord.config.model import CheckType, Config
from ldirectord.errors import InvalidArgument
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.model import Table
from ldirectord.ipvs.rules import sched_flag_bits

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = sorted((ROOT / "tests" / "data" / "configs" / "valid").glob("*.cf"))
SAMPLES.append(ROOT / "conf" / "ldirectord.cf")


def kernel_acceptable(cfg: Config) -> Config:
    kept = []
    for v in cfg.virtuals:
        try:
            sched_flag_bits(v.scheduler, keys.service_attrs(v).schedflags)
        except InvalidArgument:
            continue
        kept.append(v)
    return replace(cfg, virtuals=tuple(kept))


def step(cfg: Config, health: dict[engine.CheckId, engine.Health], table: Table,
         commands: engine.Plan) -> tuple[Table, engine.Plan]:
    plan = engine.reconcile(cfg, health, set(), table, commands=commands.commands)
    table = apply_ops(table, plan.ops)
    again = engine.reconcile(cfg, health, set(), table, commands=plan.commands)
    assert again.ops == () and again.events == ()
    for event in plan.events:
        assert event.message is None or event.message.strip() == event.message
    return table, plan


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_config_runs_through_the_engine(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} is not in this tree")
    cfg = kernel_acceptable(load(str(path)))
    ids = [c.id for c in engine.real_groups(cfg)]
    table, plan = step(cfg, {}, {}, engine.Plan())
    table, plan = step(cfg, {i: engine.Health(engine.Status.UP) for i in ids}, table, plan)
    for v in cfg.virtuals:
        if v.checktype is CheckType.OFF:
            continue
        dests = table[keys.service_key(v)].dests
        for r in v.reals:
            # every real is in service, at its weight (or a namesake's on the same key)
            held = dests[keys.dest_key(v, r.host, r.port, r.forwarding)]
            same_key = [o.weight for o in v.reals
                        if keys.dest_key(v, o.host, o.port, o.forwarding)
                        == keys.dest_key(v, r.host, r.port, r.forwarding)]
            assert held.weight in same_key
    down = {i: engine.Health(engine.Status.DOWN, 1) for i in ids}
    table, plan = step(cfg, down, table, plan)
    stop = engine.shutdown(cfg, table)
    after = apply_ops(table, stop.ops)
    assert not any(keys.service_key(v) in after for v in cfg.virtuals if v.cleanstop)
