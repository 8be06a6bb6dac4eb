"""`execute=` sub-instances: `<ldirectord> <name> start|stop|status|reload` (SPEC Part B §4.10).

Each `<name>` is resolved by the child like any config argument. The command is run
without a shell; the child's own output (status lines) passes through.

Options: a parent started with `--dry-run` starts its children with `--dry-run` too (the
option promises that nothing touches the kernel; the original has no such option). `-d`
is never passed on: a child in the foreground would never return to the parent, which
waits for each child; children always run as daemons, logging where their own config says.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence

from ldirectord.invocation import Action, ExitCode, Flag, UsageError, parse_argv
from ldirectord.logsetup import log


def self_command() -> list[str]:
    """How to run this program again: our own executable when known, else `python -m`,
    followed by the options children inherit from this process's command line."""
    argv0 = sys.argv[0] if sys.argv else ""
    if "ldirectord" in os.path.basename(argv0) and os.access(argv0, os.X_OK):
        program = [os.path.abspath(argv0)]
    else:
        program = [sys.executable, "-m", "ldirectord.cli"]
    return [*program, *inherited_options(sys.argv[1:])]


def inherited_options(argv: Sequence[str]) -> list[str]:
    """The options of command line `argv` (ours, without argv[0]) that children get."""
    try:
        flags = parse_argv(argv).flags
    except UsageError:  # not our command line (an embedding program's): no options
        return []
    return [f"--{Flag.DRY_RUN}"] if Flag.DRY_RUN in flags else []


def run_children(names: Sequence[str], action: Action) -> None:
    """Run `action` on every sub-instance, in order, waiting for each (CLI use)."""
    for name in names:
        try:
            subprocess.run([*self_command(), name, action], stdin=subprocess.DEVNULL,
                           check=False, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.info("system(%s %s %s) failed: %s", self_command()[0], name, action, exc)


async def run_child(name: str, action: Action) -> int:
    """Run `action` on one sub-instance from inside the daemon; returns its exit status."""
    cmd = self_command()
    try:
        proc = await asyncio.create_subprocess_exec(*cmd, name, action,
                                                    stdin=asyncio.subprocess.DEVNULL)
        status = await proc.wait()
    except OSError as exc:
        log.info("system(%s %s %s) failed: %s", cmd[0], name, action, exc.strerror or exc)
        return ExitCode.NOT_RUN
    if status != ExitCode.OK:
        log.info("system(%s %s %s) failed: exit status %d", cmd[0], name, action, status)
    return status


async def reload_children(old: Sequence[str], new: Sequence[str]) -> None:
    """Stop children that disappeared, reload (else start) those kept, start new ones."""
    for name in old:
        if name not in new:
            await run_child(name, Action.STOP)
    for name in new:
        if name in old:
            if await run_child(name, Action.RELOAD) != ExitCode.OK:
                await run_child(name, Action.START)
        else:
            await run_child(name, Action.START)
