"""`ldirectord --ipvs-dump`: print the active backend's IPVS table as `ipvsadm -Ln` does."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ldirectord.errors import IPVSError
from ldirectord.invocation import ExitCode
from ldirectord.ipvs.listing import format_table
from ldirectord.ipvs.model import Table
from ldirectord.ipvs.select import BackendKind, open_backend, open_kind

PROC_IP_VS = Path("/proc/net/ip_vs")
DEFAULT_VERSION_LINE = "IP Virtual Server version 1.2.1 (size=4096)"


def version_line(proc: Path = PROC_IP_VS) -> str:
    """`IP Virtual Server version x.y.z (size=N)`: the kernel's, or the usual one."""
    try:
        with proc.open() as f:
            first = f.readline().strip()
    except OSError:
        return DEFAULT_VERSION_LINE
    return first if first.startswith("IP Virtual Server version") else DEFAULT_VERSION_LINE


async def _read_table(dry_run: bool) -> Table:
    backend = await (open_kind(BackendKind.MEMORY) if dry_run else open_backend())
    try:
        return await backend.read()
    finally:
        await backend.close()


def run_dump(*, dry_run: bool = False) -> int:
    """Print the active backend's table (the empty memory table with --dry-run)."""
    try:
        table = asyncio.run(_read_table(dry_run))
    except IPVSError as exc:
        print(f"ldirectord --ipvs-dump: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    sys.stdout.write(format_table(table, version_line()))
    return ExitCode.OK
