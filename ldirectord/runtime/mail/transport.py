"""Mail transport: a plain SMTP relay, or the local sendmail exec'd without a shell."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from ldirectord.config.smtp import smtp_address
from ldirectord.logsetup import log
from ldirectord.runtime.mail.message import LOCAL, WIRE

SENDMAIL: tuple[str, ...] = ("/usr/sbin/sendmail", "-t", "-oi")
SMTP_PORT = 25


class MailError(Exception):
    """The local mailer did not take a mail."""


#: What a failed send raises: logged as a failure of that mail, never a bug of ours.
SEND_ERRORS = (TimeoutError, MailError, OSError, aiosmtplib.SMTPException, ValueError)


class Transport:
    """Sends one built message; the caller bounds the time (a mailer that overruns is
    killed when the caller's timeout cancels it)."""

    def __init__(self, *, hostname: str, sender: str, timeout: float,
                 smtp_port: int = SMTP_PORT, sendmail: Sequence[str] = SENDMAIL) -> None:
        self.hostname = hostname
        self.sender = sender
        self._timeout = timeout
        self._smtp_port = smtp_port
        self._sendmail = tuple(sendmail)

    async def smtp(self, smtp: str, msg: EmailMessage, rcpts: list[str]) -> None:
        """Through the relay of `smtp=` (plain SMTP, no STARTTLS or AUTH, as the original)."""
        host, port = smtp_address(smtp)
        # local_hostname: aiosmtplib would otherwise ask socket.getfqdn(), a blocking lookup.
        errors, _ = await aiosmtplib.send(
            msg.as_bytes(policy=WIRE), sender=self.sender, recipients=rcpts, hostname=host,
            port=self._smtp_port if port is None else port, local_hostname=self.hostname,
            timeout=self._timeout, use_tls=False, start_tls=False)
        for addr, reply in errors.items():  # the others got it: not a failure of the mail
            log.info("emailalert: recipient %s refused: %s %s", addr, reply.code, reply.message)

    async def local(self, msg: EmailMessage) -> None:
        """Through the local mailer, the message on its stdin."""
        data = msg.as_bytes(policy=LOCAL)
        proc = await asyncio.create_subprocess_exec(
            *self._sendmail, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)
        try:
            _, err = await proc.communicate(data)
        finally:
            if proc.returncode is None:  # timed out or cancelled: do not leave it behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            detail = err.decode("utf-8", "replace").strip()[:200]
            raise MailError(f"{self._sendmail[0]} exited with status {proc.returncode}"
                            + (f": {detail}" if detail else ""))
