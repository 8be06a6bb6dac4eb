"""`ldirectord --ipvs-dump`: print the IPVS table exactly as `ipvsadm -Ln` prints it."""

from __future__ import annotations

import sys


def run_dump(*, dry_run: bool = False) -> int:
    print("ldirectord --ipvs-dump: not implemented yet", file=sys.stderr)
    return 1
