"""Fixtures shared by the runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory for pid files and records, in place of /var/run."""
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setenv("LDIRECTORD_RUNDIR", str(run))
    return run
