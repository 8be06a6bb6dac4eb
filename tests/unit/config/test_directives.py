"""The directive table: the model and the reference file agree with its rows."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ldirectord.config.directives import (
    DIRECTIVES,
    Directive,
    Scope,
)
from ldirectord.config.inherit import GLOBAL_ROWS, VIRTUAL_ROWS
from ldirectord.config.model import Config, VirtualService
from ldirectord.config.reference import render

REFERENCE = Path(__file__).resolve().parents[3] / "conf" / "ldirectord.cf.reference"
#: Fields the builder fills from the section's header, its lines or its resolution.
BUILT_VIRTUAL = {"address", "port", "fwmark", "ipv6", "reals", "negotiate_every",
                 "where"}
BUILT_CONFIG = {"path", "virtuals", "warnings"}
#: Rows whose model value is resolved by the builder, not taken as set or by default.
RESOLVED = {"checktimeout", "negotiatetimeout", "service", "fallback", "fallback6",
            "protocol"}


def test_the_committed_reference_is_what_the_table_generates() -> None:
    assert REFERENCE.read_text() == render(), (
        "run: python -m ldirectord.config.reference > conf/ldirectord.cf.reference")


def test_every_row_is_in_the_reference() -> None:
    text = render()
    for row in DIRECTIVES:
        written = re.search(rf"^\s*#?\s*{re.escape(row.name)}\s*=", text, re.MULTILINE)
        assert written or (row.refused and re.search(rf"\b{row.name}\b", text)), row.name


def test_names_are_unique() -> None:
    assert len({r.name for r in DIRECTIVES}) == len(DIRECTIVES)


@pytest.mark.parametrize("row", DIRECTIVES, ids=lambda r: r.name)
def test_a_row_says_how_to_read_its_value(row: Directive) -> None:
    r = row
    if r.refused:
        return
    if r.scope is not Scope.VIRTUAL:
        assert r.on_global or r.global_convert or r.convert, r.name
    if r.scope is not Scope.GLOBAL:
        assert r.on_virtual or r.convert, r.name
    if r.inherits:
        assert r.scope is Scope.BOTH, r.name


def test_every_model_field_is_a_row_or_built() -> None:
    virtual = {f.name for f in dataclasses.fields(VirtualService)}
    assert virtual - BUILT_VIRTUAL == {r.name for r in VIRTUAL_ROWS}
    config = {f.name for f in dataclasses.fields(Config)}
    assert config - BUILT_CONFIG == {r.name for r in GLOBAL_ROWS}


def _defaults(model: type) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in dataclasses.fields(model):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
    return out


def test_the_model_defaults_are_the_rows_defaults() -> None:
    for model, rows in ((VirtualService, VIRTUAL_ROWS), (Config, GLOBAL_ROWS)):
        defaults = _defaults(model)
        for row in rows:
            if row.name not in RESOLVED:
                assert defaults[row.name] == row.default, (model.__name__, row.name)
