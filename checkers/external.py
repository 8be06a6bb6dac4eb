"""The `external` check: run `checkcommand VIP VPORT RIP RPORT` without a shell.

Exit status 0 means up. Anything else is down: a non-zero exit, a command that cannot be
started, one still running at checktimeout (its whole process group is killed), and one
killed by a signal (the original counts that as up: SPEC Part A §6 fixes it).
`external-perl` runs the same way: the file is executed as a program, so it needs a
`#!/usr/bin/perl` line and the execute bit (the original compiled it into its own process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from checkers.base import CheckSpec, Result, Target
from ldirectord.netloc import bracketed


def external_args(vip: str | None, vport: int, fwmark: int | None, rip: str, rport: int,
                  ) -> tuple[str, str, str, str]:
    """The four arguments the original passes: IPv6 addresses bracketed, marks with port 0."""
    if fwmark is not None:
        first, port = str(fwmark), 0
    else:
        assert vip is not None
        first, port = bracketed(vip), vport
    return first, str(port), bracketed(rip), str(rport)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def check_external(target: Target, spec: CheckSpec) -> Result:
    """Run `spec.checkcommand *spec.commandargs` within checktimeout; exit 0 = up.

    The target is not used: the arguments name the real by its own port, not checkport.
    Never raises for what the command does. Cancellation: the process group is killed and
    reaped before the cancellation propagates.
    """
    command, limit = spec.checkcommand, spec.checktimeout
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        proc = await asyncio.create_subprocess_exec(
            command, *spec.commandargs,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own group, so a timeout kills its children too
        )
    except OSError as exc:
        return Result(False, f"cannot run {command}: {exc.strerror or exc}",
                      loop.time() - started)
    try:
        async with asyncio.timeout(limit):
            status = await proc.wait()
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        return Result(False, f"timeout after {limit:g}s, killed", loop.time() - started)
    except asyncio.CancelledError:
        _kill_group(proc)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(proc.wait())
        raise
    elapsed = loop.time() - started
    if status == 0:
        return Result(True, "exit 0", elapsed)
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = str(-status)
        return Result(False, f"killed by signal {name}", elapsed)
    return Result(False, f"exit {status}", elapsed)
