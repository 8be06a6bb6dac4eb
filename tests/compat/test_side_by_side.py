"""The Perl ldirectord and ours on the same scenarios: tables and log lines must agree.

Each scenario is run by the original, then by ours, against the same real servers; after
every step the sorted `ipvsadm -Ln` tables and the SPEC §5.4 log lines are compared. Only the
differences a scenario declares (each one an item of SPEC Part A) may remain. The catalogue
itself (names, declared differences, their documents) is checked on the host:
tests/unit/test_compat_catalogue.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.compat import scenarios_checks, scenarios_state
from tests.compat.model import Scenario, Who
from tests.compat.runner import check_expected, compare, run_one
from tests.lab import Lab

REPORTS = Path(__file__).resolve().parents[1] / ".work" / "compat-report"
SCENARIOS = (*scenarios_checks.SCENARIOS, *scenarios_state.SCENARIOS)


@pytest.mark.timeout(900)  # two daemons through every step, under emulation
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_side_by_side(scenario: Scenario, lab: Lab, base_values: dict[str, str],
                      request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                      ) -> None:
    values = dict(base_values)
    for fixture in scenario.servers:
        values.update(request.getfixturevalue(fixture))
    work = tmp_path_factory.mktemp("compat") / scenario.name
    values["work"] = str(work)
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = REPORTS / f"{scenario.name}.txt"
    try:
        perl = run_one(Who.PERL, scenario, lab, work, values)
        ours = run_one(Who.OURS, scenario, lab, work, values)
    except AssertionError as exc:
        report.write_text(f"{exc}\n")
        raise
    finally:  # both daemons' whole output, for reading after the VM is gone
        for who in Who:
            log = work.parent / f"{work.name}.{who.value}.log"
            if log.exists():
                shutil.copy(log, REPORTS / log.name)
    problems = check_expected(scenario, values, ours) + compare(scenario, perl, ours)
    timing = "\n".join(f"{who.value} {r.name}: {r.seconds:.1f} s (table after {r.matched:.1f} s)"
                       for who, records in ((Who.PERL, perl), (Who.OURS, ours))
                       for r in records)
    report.write_text(("\n".join(problems) or "PASS") + f"\n\nseconds per step:\n{timing}\n")
    assert not problems, f"{scenario.name}:\n" + "\n".join(problems)
