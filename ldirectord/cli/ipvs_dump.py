"""`ldirectord --ipvs-dump`: print the active backend's IPVS table as `ipvsadm -Ln` does."""

from __future__ import annotations

import asyncio
import sys

from ldirectord.errors import IPVSError
from ldirectord.invocation import ExitCode
from ldirectord.ipvs.listing import format_table, version_line
from ldirectord.ipvs.model import Table
from ldirectord.ipvs.select import BackendKind, open_backend, open_kind


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
