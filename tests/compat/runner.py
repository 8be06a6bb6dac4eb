"""One scenario side by side: the same world for both daemons, then the comparison step by step.

`run_side_by_side` resets the world (empty IPVS table, every lab server running, the
scenario's folder emptied, its initial table entries), runs the Perl original through the
steps, resets again, runs ours, and returns what each showed. `compare` turns the two
records into the list of undeclared differences (empty when the scenario passes).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from tests.compat.harness import Run, StepRecord, compact_sorted, expected_compact
from tests.compat.model import Action, Scenario, Step, Who
from tests.lab import Kind, Lab

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace `{name}` for the known names only (regular expressions keep their braces)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _ipvsadm(*argv: str) -> None:
    done = subprocess.run(["ipvsadm", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ipvsadm {' '.join(argv)}: {done.stderr.strip()}")


def _lab_target(arg: str) -> tuple[str, Kind]:
    host, kind = arg.split(":")
    return host, Kind(kind)


def reset_world(scenario: Scenario, lab: Lab, work: Path, values: Mapping[str, str]) -> Path:
    """Empty table, all lab servers up, a clean scenario folder; returns the config path."""
    _ipvsadm("-C")
    hosts = {h.name: h for h in lab.hosts()}
    for host in hosts.values():
        for kind in (Kind.HTTP, Kind.FTP):
            if not lab.running(host, kind):
                lab.start(host, kind)
    if work.exists():
        shutil.rmtree(work)
    (work / "state").mkdir(parents=True)
    (work / "maint").mkdir()
    for argv in scenario.initial:
        _ipvsadm(*(fill(a, values) for a in argv))
    # The external check and the fallbackcommand of the scenarios: state in files.
    (work / "check.sh").write_text(f'#!/bin/sh\ntest ! -e "{work}/state/down-$3"\n')
    (work / "fallback.sh").write_text(f'#!/bin/sh\necho "$@" >> "{work}/state/fallback.log"\n')
    for script in ("check.sh", "fallback.sh"):
        (work / script).chmod(0o755)
    config = work / "ldirectord.cf"
    config.write_text(fill(scenario.config, values))
    return config


def _act(run: Run, step: Step, lab: Lab, work: Path, values: Mapping[str, str]) -> None:
    hosts = {h.name: h for h in lab.hosts()}
    match step.action:
        case Action.NOTHING:
            pass
        case Action.STOP | Action.START:
            for target in step.arg.split(","):
                name, kind = _lab_target(target)
                if step.action is Action.STOP:
                    lab.stop(hosts[name], kind)
                else:
                    lab.start(hosts[name], kind)
        case Action.TOUCH:
            (work / fill(step.arg, values)).write_text("")
        case Action.REMOVE:
            (work / fill(step.arg, values)).unlink()
        case Action.RELOAD:
            run.config.write_text(fill(step.arg, values))
            run.signal_between_checks(signal.SIGHUP)
        case Action.TERM:
            run.signal_between_checks(signal.SIGTERM)
        case Action.IPVSADM:
            _ipvsadm(*fill(step.arg, values).split())


def run_one(who: Who, scenario: Scenario, lab: Lab, work: Path,
            values: Mapping[str, str]) -> list[StepRecord]:
    config = reset_world(scenario, lab, work, values)
    run = Run(who, config, work.parent / f"{work.name}.{who.value}.log")
    run.start()
    seen = 0
    try:
        for step in scenario.steps:
            _act(run, step, lab, work, values)
            table = step.table
            for name, _declared, perl_table in scenario.perl_tables:
                if who is Who.PERL and name == step.name:
                    table = perl_table
            run.settle(step, fill(table, values), scenario.checked)
            if scenario.watch:
                watched = work / scenario.watch
                lines = watched.read_text().splitlines() if watched.exists() else []
                label = watched.name
                run.records[-1].lines.extend(f"{label}: {x}" for x in lines[seen:])
                seen = len(lines)
    finally:
        run.kill()
        _ipvsadm("-C")
    return run.records


def compare(scenario: Scenario, perl: list[StepRecord], ours: list[StepRecord]) -> list[str]:
    """Every difference between the two runs that the scenario does not declare."""
    problems: list[str] = []
    by_name = {d.name: d for d in scenario.declared}
    table_excused = {name for name, _d, _t in scenario.perl_tables}
    for p, o in zip(perl, ours, strict=True):
        if p.table != o.table and p.name not in table_excused:
            problems.append(f"step {p.name}: tables differ\n--- perl:\n{p.table}\n"
                            f"--- ours:\n{o.table}")
        pc, oc = Counter(p.lines), Counter(o.lines)
        for who, extra in ((Who.PERL, pc - oc), (Who.OURS, oc - pc)):
            for line, n in sorted(extra.items()):
                if not any(d.excuses(who, p.name, line) for d in by_name.values()):
                    problems.append(f"step {p.name}: only {who.value} logged "
                                    f"{'' if n == 1 else f'{n}x '}{line!r}")
    return problems


def check_expected(scenario: Scenario, values: Mapping[str, str],
                   ours: list[StepRecord]) -> list[str]:
    """Our tables against the scenario's stated ones (a guard against a vacuous pass)."""
    problems = []
    for step, rec in zip(scenario.steps, ours, strict=True):
        if compact_sorted(rec.table) != expected_compact(fill(step.table, values)):
            problems.append(f"step {step.name}: ours ended with\n{rec.table}")
    return problems
