"""Where things live on disk: config-file lookup and the instance name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

#: SPEC 1.2: directories searched, in order, before the argument as given.
CONFIG_DIRS: Final[tuple[str, ...]] = ("/etc/ha.d", "/etc/ha.d/conf")
#: The config used when only an action is given.
DEFAULT_CONFIG: Final = "ldirectord.cf"


def config_candidates(arg: str, dirs: Sequence[str] = CONFIG_DIRS) -> list[str]:
    """The paths tried for `arg`, in order: `<dir>/<arg>` for each dir, then `arg` itself."""
    return [os.path.join(d, arg) for d in dirs] + [arg]


def resolve_config(arg: str, dirs: Sequence[str] = CONFIG_DIRS) -> str | None:
    """The first candidate that is a regular file, made absolute; None when there is none.

    `os.path.join` drops the directory for an absolute `arg`, so `/x/y.cf` is tried as
    itself three times; that is harmless and matches the original's order.
    """
    if not arg or "\0" in arg:
        return None
    for candidate in config_candidates(arg, dirs):
        try:
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        except (OSError, ValueError):
            continue
    return None


def not_found_message(arg: str, dirs: Sequence[str] = CONFIG_DIRS) -> str:
    """`Config file <arg> not found`, naming the paths searched when there were several."""
    searched: list[str] = []
    for candidate in config_candidates(arg, dirs):
        try:
            path = os.path.abspath(candidate)
        except ValueError:  # a NUL in the argument
            path = candidate
        if path not in searched:
            searched.append(path)
    if len(searched) < 2:
        return f"Config file {arg} not found"
    return f"Config file {arg} not found (searched {', '.join(searched)})"


def instance_name(args: Sequence[str]) -> str:
    """CFGNAME: with `<config> <action>` the config's last path component as typed,
    with only `<action>` the literal `ldirectord`."""
    if len(args) >= 2:
        return os.path.basename(args[0].rstrip("/")) or args[0]
    return "ldirectord"

