"""SMTP and submission checks (aiosmtplib): a 220 greeting, EHLO (HELO if refused), QUIT.

As the original: no STARTTLS, no AUTH, request/receive unused (SPEC 3.3). The EHLO name
is the local host name, taken without a DNS lookup so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import socket

import aiosmtplib
from aiosmtplib import SMTPResponseException

from checkers._dialog import BOUND_GRACE, excerpt, quit_grace
from checkers.base import CheckSpec, Down, Result, Target, bounded


def _helo_name() -> str:
    # An SMTP domain has no spaces; a strange local name must not make every check fail.
    name = socket.gethostname().strip()
    return name if name and name.isprintable() and " " not in name else "localhost"


def _reply(e: SMTPResponseException) -> str:
    # aiosmtplib reports replies it cannot parse (garbage, too long) with code -1
    text = f"{e.code} {e.message}" if e.code >= 0 else e.message
    return excerpt(text.encode())


async def _dialog(smtp: aiosmtplib.SMTP, name: str) -> tuple[bool, str]:
    """Greeting and EHLO/HELO: whether the server is up, and the detail."""
    try:
        await smtp.connect()
    except SMTPResponseException as e:
        return False, f"{name} greeting: {_reply(e)}"
    try:
        reply = await smtp.ehlo()
    except SMTPResponseException as ehlo_error:
        if ehlo_error.code < 500:
            return False, f"{name} EHLO failed: {_reply(ehlo_error)}"
        try:  # a server that does not speak ESMTP refuses EHLO with a 5xx: try HELO
            reply = await smtp.helo()
        except SMTPResponseException as e:
            return False, f"{name} HELO failed: {_reply(e)}"
    first = reply.message.splitlines()[0] if reply.message else ""
    return True, f"{name} {reply.code} {excerpt(first.encode())}".rstrip()


async def _check(target: Target, spec: CheckSpec, name: str) -> Result:
    deadline = asyncio.get_running_loop().time() + spec.negotiatetimeout
    return await bounded(spec.negotiatetimeout, _session(target, spec, name, deadline),
                         name=name, grace=BOUND_GRACE)


async def _session(target: Target, spec: CheckSpec, name: str, deadline: float
                   ) -> tuple[bool, str]:
    smtp = aiosmtplib.SMTP(hostname=target.host, port=target.port,
                           timeout=spec.negotiatetimeout, local_hostname=_helo_name(),
                           use_tls=False, start_tls=False)
    try:
        async with asyncio.timeout_at(deadline):
            ok, detail = await _dialog(smtp, name)
        if ok:
            try:  # a polite goodbye; how the server takes it does not change the outcome
                async with asyncio.timeout(quit_grace(deadline)):
                    await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass
    except aiosmtplib.SMTPException as e:
        raise _failure(e) from None
    finally:
        smtp.close()
    return ok, detail


def _failure(e: aiosmtplib.SMTPException) -> Exception:
    """What `bounded` words for a library error: its socket error, its timeout, or a Down."""
    if isinstance(e.__cause__, OSError):
        return e.__cause__
    if isinstance(e, SMTPResponseException):
        return Down(_reply(e))
    if isinstance(e, aiosmtplib.SMTPServerDisconnected):
        return Down("connection closed by server")
    if isinstance(e, TimeoutError):
        return e
    return Down(excerpt(str(e).encode()))


async def check_smtp(target: Target, spec: CheckSpec) -> Result:
    """Check an SMTP server."""
    return await _check(target, spec, "SMTP")


async def check_submission(target: Target, spec: CheckSpec) -> Result:
    """Check a mail submission server (the same dialog, on port 587 by default)."""
    return await _check(target, spec, "SMTP")
