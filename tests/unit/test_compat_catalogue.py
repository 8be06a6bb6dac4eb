"""The side-by-side suite's catalogue holds together, and the documents keep up with it.

Pure data, so it runs on the host; the scenarios themselves run in the IPVS VM.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.compat import differences, scenarios_checks, scenarios_state

ROOT = Path(__file__).resolve().parents[2]
DECLARED = differences.ALL
SCENARIOS = (*scenarios_checks.SCENARIOS, *scenarios_state.SCENARIOS)


def test_the_catalogue_is_complete() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names)) >= 25
    known = {x.name: x for x in DECLARED}
    for s in SCENARIOS:
        for declared in s.declared:
            assert known.get(declared.name) is declared, (s.name, declared.name)
            assert 1 <= declared.part_a <= 13
        for _step, name, _table in s.perl_tables:
            assert name in {x.name for x in s.declared}, (s.name, name)


@pytest.mark.parametrize("declared", DECLARED, ids=[d.name for d in DECLARED])
def test_readme_lists_every_declared_difference(declared: differences.Declared) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Differences from the Perl ldirectord"):]
    assert f"[`{declared.name}`]" in section


@pytest.mark.parametrize("declared", DECLARED, ids=[d.name for d in DECLARED])
def test_compat_doc_names_its_part_a_item(declared: differences.Declared) -> None:
    table = (ROOT / "docs/compat.md").read_text()
    row = re.search(rf"^\| `{re.escape(declared.name)}` \| (\d+) \|", table, re.MULTILINE)
    assert row is not None and int(row.group(1)) == declared.part_a


def test_every_declared_difference_is_used_by_a_scenario() -> None:
    used = {d.name for s in SCENARIOS for d in s.declared}
    assert used == {d.name for d in DECLARED}


def test_compat_doc_lists_every_scenario() -> None:
    text = (ROOT / "docs/compat.md").read_text()
    scenarios = text[text.index("## Scenarios"):]
    for s in SCENARIOS:
        assert f"`{s.name}`" in scenarios, s.name
