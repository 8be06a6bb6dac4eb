"""`ldirectord --probe`: run every configured check once, print one line per real server."""

from __future__ import annotations

import sys


def run_probe(arg: str) -> int:
    print("ldirectord --probe: not implemented yet", file=sys.stderr)
    return 1
