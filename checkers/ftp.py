"""FTP check (aioftp): log in, fetch `request` in passive mode, and match it against `receive`.

Up iff (SPEC 3.3 with Part A §6):
- `receive` set: the login succeeds, `RETR <request>` succeeds, and the content matches
  (the request is used as given, an absolute path; the default "/" names a directory, so
  a `receive` check needs a file in `request`);
- `receive` empty: the login succeeds, and if `request` is other than "/" its RETR also
  succeeds (any content). With the default request "/" the login alone decides.
An empty login falls back to the original's anonymous defaults. Passive mode uses EPSV
first (the only form that works over IPv6), then PASV. At most `MAX_BODY` bytes of the
file are read; a larger file is judged on its first `MAX_BODY` bytes. The whole check is
bounded by `negotiatetimeout`; `receive` is matched off the event loop (checkers/match.py)
after the goodbye, with what is left of that time.
"""

from __future__ import annotations

import asyncio
import socket

import aioftp

from checkers._dialog import BOUND_GRACE, excerpt, quit_grace
from checkers.base import CheckSpec, Down, Result, Target, bounded, one_line
from checkers.match import MatchTimeout, search

#: Most bytes of the file that are read and matched.
MAX_BODY = 4 * 1024 * 1024
#: Most reply lines read in one check (aioftp reads multi-line replies without a bound).
MAX_REPLY_LINES = 200
_BLOCK = 64 * 1024


class _BoundedClient(aioftp.Client):
    """An aioftp client that gives up after MAX_REPLY_LINES reply lines."""

    lines_left = MAX_REPLY_LINES

    async def parse_line(self) -> tuple[aioftp.Code, str]:
        self.lines_left -= 1
        if self.lines_left < 0:
            raise ValueError("too many reply lines")
        return await super().parse_line()


def _credentials(spec: CheckSpec) -> tuple[str, str]:
    if spec.login:
        return spec.login, spec.passwd
    return "anonymous", spec.passwd or f"ldirectord@{socket.gethostname()}"


class _Truncated(Exception):
    def __init__(self, body: bytes) -> None:
        super().__init__("truncated")
        self.body = body


async def _fetch(client: _BoundedClient, path: str) -> bytes:
    body = bytearray()
    async with client.download_stream(path) as stream:
        async for block in stream.iter_by_block(_BLOCK):
            body += block
            if len(body) >= MAX_BODY:
                # Enough to judge; the rest is never read (and the data connection dropped).
                raise _Truncated(bytes(body[:MAX_BODY]))
    return bytes(body)


async def _dialog(client: _BoundedClient, target: Target, spec: CheckSpec
                  ) -> tuple[bool, str] | bytes:
    """The verdict, or the fetched content when `receive` is to judge it."""
    await client.connect(target.host, target.port)
    user, passwd = _credentials(spec)
    try:
        await client.login(user, passwd)
    except aioftp.StatusCodeError as e:
        return False, f"FTP login failed: {_reply(e)}"
    if spec.receive is None and spec.request == "/":
        return True, f"FTP logged in as {user}"
    try:
        body = await _fetch(client, spec.request)
    except _Truncated as t:
        body = t.body
    except aioftp.StatusCodeError as e:
        return False, f"FTP RETR {spec.request} failed: {_reply(e)}"
    if spec.receive is None:
        return True, f"FTP RETR {spec.request}: {len(body)} bytes"
    return body


async def _judge(body: bytes, spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    assert spec.receive is not None
    try:
        if not await search(spec.receive, body, deadline, spec.negotiatetimeout):
            return False, "FTP receive did not match"
    except MatchTimeout as exc:
        return False, exc.detail
    return True, f"FTP RETR {spec.request}: receive matched"


def _reply(e: aioftp.StatusCodeError) -> str:
    info = e.info if isinstance(e.info, list) else [e.info]
    codes = e.received_codes if isinstance(e.received_codes, tuple) else (e.received_codes,)
    text = " ".join(str(line) for line in info).strip()
    return excerpt(f"{' '.join(map(str, codes))} {text}".encode())


async def check_ftp(target: Target, spec: CheckSpec) -> Result:
    """Check an FTP server."""
    deadline = asyncio.get_running_loop().time() + spec.negotiatetimeout
    return await bounded(spec.negotiatetimeout, _session(target, spec, deadline), name="FTP",
                         grace=BOUND_GRACE)


async def _session(target: Target, spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    client = _BoundedClient(socket_timeout=spec.negotiatetimeout,
                            connection_timeout=spec.negotiatetimeout,
                            path_timeout=spec.negotiatetimeout,
                            passive_commands=("epsv", "pasv"))
    try:
        async with asyncio.timeout_at(deadline):
            verdict = await _dialog(client, target, spec)
        try:  # a polite goodbye; how the server takes it does not change the outcome
            async with asyncio.timeout(quit_grace(deadline)):
                await client.quit()
        except (aioftp.AIOFTPException, OSError, ValueError):
            pass
    except aioftp.StatusCodeError as e:
        raise Down(_reply(e)) from None
    except aioftp.AIOFTPException as e:
        raise Down(one_line(str(e) or type(e).__name__)) from None
    except ValueError:
        # aioftp's line reader rejects an oversized line, its parser a malformed reply.
        raise Down("malformed or oversized reply") from None
    finally:
        client.close()
    return verdict if isinstance(verdict, tuple) else await _judge(verdict, spec, deadline)
