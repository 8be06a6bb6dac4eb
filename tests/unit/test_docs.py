"""The documents keep up with the side-by-side suite: every declared difference is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.compat import differences, scenarios_checks, scenarios_state

ROOT = Path(__file__).resolve().parents[2]
DECLARED = differences.ALL


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
    used = {d.name for s in (*scenarios_checks.SCENARIOS, *scenarios_state.SCENARIOS)
            for d in s.declared}
    assert used == {d.name for d in DECLARED}


def test_compat_doc_lists_every_scenario() -> None:
    text = (ROOT / "docs/compat.md").read_text()
    scenarios = text[text.index("## Scenarios"):]
    for s in (*scenarios_checks.SCENARIOS, *scenarios_state.SCENARIOS):
        assert f"`{s.name}`" in scenarios, s.name
