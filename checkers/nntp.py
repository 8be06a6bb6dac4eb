"""NNTP check: the server's banner must start with `2` (200/201: service available), then QUIT."""

from __future__ import annotations

from checkers._dialog import Dialog, Expect, Send, check_dialog
from checkers.base import CheckSpec, Result, Target

#: The original reads the banner and checks only its first character.
NNTP_DIALOG = Dialog((Expect((b"2",), fail="NNTP banner"),), close=Send(b"QUIT"))


async def check_nntp(target: Target, spec: CheckSpec) -> Result:
    """Check an NNTP server's banner."""
    return await check_dialog(target, spec, NNTP_DIALOG, name="NNTP")
