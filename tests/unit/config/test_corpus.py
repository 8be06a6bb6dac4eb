"""Golden corpus: every valid file parses to its recorded Config, every invalid file fails
`ldirectord -t` with exactly its recorded line-numbered messages.

Set LDIRECTORD_REGEN_GOLDEN=1 to rewrite the expected files (then review the diff).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ldirectord.cli import main
from ldirectord.config import load
from ldirectord.errors import ConfigError
from tests.unit.config.helpers import CONFIGS, HOSTNAME, SAMPLES, config_data

REGEN = os.environ.get("LDIRECTORD_REGEN_GOLDEN") == "1"
VALID = sorted((CONFIGS / "valid").glob("*.cf"))
INVALID = sorted((CONFIGS / "invalid").glob("*.cf"))
ALL_VALID = [*VALID, *SAMPLES]


def _expected_json(path: Path) -> Path:
    if path in SAMPLES:
        return CONFIGS / "valid" / f"sample-{path.name}.expected.json"
    return path.with_name(path.name + ".expected.json")


def _expected_messages(path: Path) -> list[str]:
    """`<path>:<line>: <message>` lines from `<name>.errors` (`LINE: message` lines)."""
    lines = path.with_suffix(".errors").read_text().splitlines()
    return [f"{path}:{line}" for line in lines if line.strip()]


def test_corpus_is_big_enough() -> None:
    assert len(INVALID) >= 40
    assert len(VALID) >= 12
    for path in INVALID:
        assert path.with_suffix(".errors").is_file(), path


@pytest.mark.parametrize("path", ALL_VALID, ids=lambda p: p.name)
def test_valid_file_parses_to_recorded_config(path: Path) -> None:
    config = load(str(path), hostname=HOSTNAME)
    data = config_data(config)
    expected_file = _expected_json(path)
    if REGEN:
        expected_file.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    assert data == json.loads(expected_file.read_text())


@pytest.mark.parametrize("path", ALL_VALID, ids=lambda p: p.name)
def test_two_parses_compare_equal(path: Path) -> None:
    a = load(str(path), hostname=HOSTNAME)
    b = load(str(path), hostname=HOSTNAME)
    assert a == b
    assert hash(a.virtuals) == hash(b.virtuals)


@pytest.mark.parametrize("path", ALL_VALID, ids=lambda p: p.name)
def test_check_action_accepts_valid_file(path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    assert main(["-t", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: OK: ")
    warnings = load(str(path)).warnings
    assert err.splitlines() == [f"{path}:{w.line}: warning: {w.message}" for w in warnings]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_check_action_reports_every_error(path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert main(["-t", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    *messages, summary = err.splitlines()
    if REGEN:
        prefix = f"{path}:"
        path.with_suffix(".errors").write_text(
            "".join(m.removeprefix(prefix) + "\n" for m in messages))
    assert messages == _expected_messages(path)
    errors = sum(1 for m in messages if ": warning: " not in m)
    assert summary.startswith(f"{path}: invalid: {errors} error")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_file_yields_no_config(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(str(path), hostname=HOSTNAME)
    lines = [m.line for m in info.value.errors]
    assert lines == sorted(lines)
    assert info.value.errors


def _console_script() -> str:
    script = Path(sys.executable).with_name("ldirectord")
    if script.exists():
        return str(script)
    found = shutil.which("ldirectord")
    assert found, "the ldirectord console script is not installed"
    return found


@pytest.mark.parametrize("path", [*SAMPLES, INVALID[0], INVALID[-1]], ids=lambda p: p.name)
def test_console_script_subprocess(path: Path) -> None:
    proc = subprocess.run([_console_script(), "-t", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    if path in SAMPLES:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{path}: OK: ")
    else:
        assert proc.returncode == 2
        assert proc.stderr.splitlines()[:-1] == _expected_messages(path)


def test_console_script_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cf"
    proc = subprocess.run([_console_script(), "-t", str(missing)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"Config file {missing} not found\n"
