"""POP3 and POP3S checks: a `+OK` greeting, then USER/PASS when a login is configured, QUIT.

Unlike the original (whose POP library made a check without login always up, SPEC 6.1 #7),
the greeting must be `+OK` in every case (SPEC Part A §6). pops is POP3 over implicit TLS.
"""

from __future__ import annotations

from checkers._dialog import Dialog, Expect, Send, Step, check_login_dialog
from checkers.base import CheckSpec, Result, Target

_OK = (b"+OK",)


def pop_dialog(login: str, passwd: str) -> Dialog:
    """The POP dialog: greeting, optional USER/PASS, QUIT (ValueError on CR/LF/NUL)."""
    steps: list[Step] = [Expect(_OK, fail="POP greeting")]
    if login:
        steps += [
            Send(b"USER " + login.encode()),
            Expect(_OK, fail="POP login failed"),
            Send(b"PASS " + passwd.encode()),
            Expect(_OK, fail="POP login failed"),
        ]
    return Dialog(tuple(steps), close=Send(b"QUIT"))


async def check_pop(target: Target, spec: CheckSpec) -> Result:
    """Check a POP3 server (plain TCP)."""
    return await check_login_dialog(target, spec, pop_dialog, name="POP", tls=False)


async def check_pops(target: Target, spec: CheckSpec) -> Result:
    """Check a POP3 server over implicit TLS."""
    return await check_login_dialog(target, spec, pop_dialog, name="POPS", tls=True)
