"""Draft values -> model keyword arguments: as set, else the global value, else the default.

Which values a virtual inherits and what each defaults to is said by the rows of
`directives.py`; the two timeouts follow SPEC 2.7, each falling back on the other one
before the global values.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final

from ldirectord.config.directives import (
    CHECKTIMEOUT_DEFAULT,
    DIRECTIVES,
    NEGOTIATETIMEOUT_DEFAULT,
    Directive,
    Scope,
)
from ldirectord.config.draft import GlobalDraft, VirtualDraft
from ldirectord.config.model import Config, VirtualService

# The rows whose value a VirtualService / Config carries under the row's name.
VIRTUAL_ROWS: Final = tuple(r for r in DIRECTIVES if r.scope is not Scope.GLOBAL
                            and r.name in {f.name for f in fields(VirtualService)})
GLOBAL_ROWS: Final = tuple(r for r in DIRECTIVES if r.scope is not Scope.VIRTUAL
                           and r.name in {f.name for f in fields(Config)})


def _value(d: VirtualDraft, g: GlobalDraft, row: Directive) -> object:
    if row.name in d.values:
        return d.values[row.name]
    if row.inherits and row.name in g.values:
        return g.values[row.name]
    return row.default


def _seconds(*values: object) -> float:
    """The first value that is set."""
    for v in values:
        if v is not None:
            assert isinstance(v, int | float)
            return float(v)
    raise AssertionError("no default")


def virtual_values(d: VirtualDraft, g: GlobalDraft) -> dict[str, Any]:
    """The VirtualService fields that directives give, resolved."""
    values = {row.name: _value(d, g, row) for row in VIRTUAL_ROWS}
    local, glob = d.values, g.values
    values["checktimeout"] = _seconds(
        local.get("checktimeout"), local.get("negotiatetimeout"),
        glob.get("checktimeout"), glob.get("negotiatetimeout"), CHECKTIMEOUT_DEFAULT)
    values["negotiatetimeout"] = _seconds(
        local.get("negotiatetimeout"), local.get("checktimeout"),
        glob.get("negotiatetimeout"), glob.get("checktimeout"), NEGOTIATETIMEOUT_DEFAULT)
    return values


def global_values(g: GlobalDraft) -> dict[str, Any]:
    """The Config fields that directives give, as set or by default."""
    return {row.name: g.values.get(row.name, row.default) for row in GLOBAL_ROWS}
