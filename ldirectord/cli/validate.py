"""`ldirectord -t [configfile]`: validate a config file and summarise it.

Exit status: 0 valid, 2 invalid, 1 not found. Errors and warnings go to stderr as
`<file>:<line>: <message>` (warnings as `<file>:<line>: warning: <message>`); a valid
file prints one summary line on stdout, e.g.
`ldirectord.cf: OK: 2 virtual services, 4 real servers, 4 checks`.
"""

from __future__ import annotations

import os
import sys

from ldirectord import engine
from ldirectord.config import load
from ldirectord.config.model import CheckType, Config
from ldirectord.errors import ConfigError, ConfigMessage
from ldirectord.invocation import ExitCode
from ldirectord.paths import not_found_message, resolve_config


def display_path(arg: str, resolved: str) -> str:
    """The file as the user will recognise it: as typed if that is what was found."""
    try:
        if os.path.abspath(arg) == resolved:
            return arg
    except ValueError:
        pass
    return resolved


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(config: Config) -> str:
    """`N virtual services, N real servers, N checks`; a check shared by several virtuals
    (one check identity, SPEC 3.8) counts once, and `checktype=off` runs none."""
    reals = sum(len(vs.reals) for vs in config.virtuals)
    checks = sum(1 for c in engine.real_groups(config) if c.id.checktype is not CheckType.OFF)
    return (f"{_plural(len(config.virtuals), 'virtual service')}, "
            f"{_plural(reals, 'real server')}, {_plural(checks, 'check')}")


def format_message(msg: ConfigMessage, path: str, warning: bool) -> str:
    shown = ConfigMessage(path, msg.line, f"warning: {msg.message}" if warning
                          else msg.message)
    return str(shown)


def run_test(arg: str) -> int:
    resolved = resolve_config(arg)
    if resolved is None:
        print(not_found_message(arg), file=sys.stderr)
        return ExitCode.FAILURE
    path = display_path(arg, resolved)
    try:
        config = load(resolved)
    except ConfigError as exc:
        lines = [(m.line, format_message(m, path, False)) for m in exc.errors]
        lines += [(m.line, format_message(m, path, True)) for m in exc.warnings]
        for _, text in sorted(lines, key=lambda t: t[0]):
            print(text, file=sys.stderr)
        print(f"{path}: invalid: {_plural(len(exc.errors), 'error')}, "
              f"{_plural(len(exc.warnings), 'warning')}", file=sys.stderr)
        return ExitCode.INVALID
    for w in config.warnings:
        print(format_message(w, path, True), file=sys.stderr)
    print(f"{path}: OK: {summary(config)}")
    return ExitCode.OK
