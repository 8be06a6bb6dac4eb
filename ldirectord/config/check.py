"""`ldirectord -t [configfile]`: validate a config file and summarise it."""

from __future__ import annotations

import sys


def run_test(arg: str) -> int:
    print("ldirectord -t: not implemented yet", file=sys.stderr)
    return 1
