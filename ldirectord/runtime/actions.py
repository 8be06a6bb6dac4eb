"""The lifecycle actions: start, stop, restart, try-restart, reload, force-reload, status."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ldirectord.cli import Invocation


def run_action(inv: Invocation, argv: Sequence[str]) -> int:
    print("ldirectord: actions are not implemented yet", file=sys.stderr)
    return 1
