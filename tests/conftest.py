"""Shared test configuration: the data folder."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
