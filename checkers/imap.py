"""IMAP and IMAPS checks: a `* OK` (or `* PREAUTH`) greeting, LOGIN if configured, LOGOUT.

The check port is probed as configured (the original always probed 143 for IP-addressed
reals, SPEC 6.1 #16). imaps is IMAP over implicit TLS. Credentials go out as quoted strings
when they are plain printable ASCII, otherwise as synchronizing literals (RFC 3501 §4.3),
so any password a server accepts can be checked.
"""

from __future__ import annotations

from checkers._dialog import Dialog, Expect, Send, Step, check_login_dialog
from checkers.base import CheckSpec, Result, Target

_GREETING = Expect((b"* OK",), fail="IMAP greeting", finish=(b"* PREAUTH",))
_UNTAGGED = (b"* ",)


def _quotable(value: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in value)


def _quoted(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def login_steps(tag: bytes, login: str, passwd: str) -> tuple[Step, ...]:
    """`<tag> LOGIN user pass`, split at literals so each waits for the `+` continuation."""
    steps: list[Step] = []
    line = tag + b" LOGIN"
    for value in (login.encode(), passwd.encode()):
        if _quotable(value):
            line += b" " + _quoted(value)
            continue
        # A literal: announce its size, wait for "+", then the bytes start the next line.
        steps += [Send(line + b" {%d}" % len(value)),
                  Expect((b"+",), fail="IMAP login failed", skip=_UNTAGGED)]
        line = value
    steps += [Send(line), Expect((tag + b" OK",), fail="IMAP login failed", skip=_UNTAGGED)]
    return tuple(steps)


def imap_dialog(login: str, passwd: str) -> Dialog:
    """The IMAP dialog: greeting, optional LOGIN, LOGOUT (ValueError on CR/LF/NUL)."""
    steps: tuple[Step, ...] = (_GREETING,)
    if login:
        steps += login_steps(b"a1", login, passwd)
    return Dialog(steps, close=Send(b"a2 LOGOUT"))


async def check_imap(target: Target, spec: CheckSpec) -> Result:
    """Check an IMAP server (plain TCP)."""
    return await check_login_dialog(target, spec, imap_dialog, name="IMAP", tls=False)


async def check_imaps(target: Target, spec: CheckSpec) -> Result:
    """Check an IMAP server over implicit TLS."""
    return await check_login_dialog(target, spec, imap_dialog, name="IMAPS", tls=True)
