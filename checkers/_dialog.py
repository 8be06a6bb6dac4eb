"""Line dialogs as data ("expect a reply, send a command") and the one driver that runs them.

POP, IMAP and NNTP checks are short line dialogs. Each is written as a `Dialog`: a tuple of
`Expect` and `Send` steps plus an optional closing command (QUIT, LOGOUT). `run_dialog`
plays a dialog over any `Channel` (an asyncio stream pair in production, an in-memory
scripted peer in unit tests), so the dialogs are testable without sockets.

The module also holds the plumbing every line-based checker shares: opening a (TLS)
connection to a target with a bound on the line length, and running a dialog within the
check's time (`checkers.base.bounded` words whatever a server did: refused, reset,
stalled, garbage, TLS failure).

Rules of this file:
- Every read is bounded: a reply line longer than `MAX_LINE` fails the check.
- One deadline (start + negotiatetimeout) bounds connecting and the dialog; the closing
  command and closing the socket only get short grace periods within or just after it.
- Commands never contain CR or LF: `Send` refuses them, so a login or password cannot
  smuggle a second command into the dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from checkers.base import DETAIL_CHARS, CheckSpec, Down, Result, Target, bounded
from checkers.tls import TlsClient, current_client

#: Longest reply line accepted (bytes, including the line end).
MAX_LINE = 64 * 1024
#: How long the closing command (QUIT, LOGOUT) may wait for its reply; its outcome is ignored.
QUIT_GRACE = 1.0
#: How long closing a connection may take before it is aborted.
CLOSE_GRACE = 0.25
#: How long a check's bound lets its cleanup run past the deadline: the closing command
#: ends by the deadline and closing the socket within CLOSE_GRACE, so this is a backstop.
BOUND_GRACE = CLOSE_GRACE + 0.1


class DialogError(Down):
    """The peer broke the dialog: closed early or sent an oversized line."""


class Channel(Protocol):
    """A line-oriented duplex byte stream."""

    async def readline(self) -> bytes:
        """One line including its end; b"" at EOF; DialogError if longer than MAX_LINE."""
        ...

    async def send(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Send:
    """Send one command line; CRLF is appended."""

    line: bytes

    def __post_init__(self) -> None:
        if b"\r" in self.line or b"\n" in self.line or b"\0" in self.line:
            raise ValueError("a dialog command may not contain CR, LF or NUL")


@dataclass(frozen=True, slots=True)
class Expect:
    """Read reply lines until one is not skipped; it must start with one of `ok`.

    Prefixes compare case-insensitively. A line starting with one of `finish` ends the
    dialog successfully at once (e.g. IMAP PREAUTH: no login needed); one starting with
    one of `skip` is ignored (e.g. IMAP untagged `* ` lines before a tagged reply). On
    failure the detail is `"<fail>: <line>"`.
    """

    ok: tuple[bytes, ...]
    fail: str
    skip: tuple[bytes, ...] = ()
    finish: tuple[bytes, ...] = ()


Step = Send | Expect


@dataclass(frozen=True, slots=True)
class Dialog:
    """The steps of one check, and the command that politely ends the session."""

    steps: tuple[Step, ...]
    close: Send | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a dialog came to: `detail` is the failing or the last accepted reply."""

    ok: bool
    detail: str


def excerpt(line: bytes) -> str:
    """A reply line as printable text for a detail (decoded leniently, shortened)."""
    text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else "?" for c in text)
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS] + "..."
    return text or "(empty line)"


def _starts(line: bytes, prefixes: Sequence[bytes]) -> bool:
    low = line.lower()
    return any(low.startswith(p.lower()) for p in prefixes)


async def run_dialog(channel: Channel, dialog: Dialog, *,
                     deadline: float | None = None) -> Outcome:
    """Play `dialog` over `channel`: its steps by `deadline` (loop time), then its close.

    Error handling: a reply that does not match is a failed Outcome; EOF or an oversized
    line raises DialogError; missing the deadline raises TimeoutError; I/O errors propagate
    (`checkers.base.bounded` words them). The closing command never fails the dialog: it
    gets what is left before the deadline, at most QUIT_GRACE, and its reply is ignored.
    Cancellation: nothing to clean up here; the caller owns the channel.
    """
    async with asyncio.timeout_at(deadline):
        outcome = await _play(channel, dialog.steps)
    if outcome.ok and dialog.close is not None:
        await close_politely(channel, dialog.close, quit_grace(deadline))
    return outcome


async def _play(channel: Channel, steps: Sequence[Step]) -> Outcome:
    last = ""
    for step in steps:
        if isinstance(step, Send):
            await channel.send(step.line + b"\r\n")
            continue
        while True:
            line = await channel.readline()
            if not line:
                raise DialogError("connection closed by server")
            if not _starts(line, step.skip):
                break
        last = excerpt(line)
        if _starts(line, step.finish):
            break
        if not _starts(line, step.ok):
            return Outcome(False, f"{step.fail}: {last}")
    return Outcome(True, last)


def quit_grace(deadline: float | None) -> float:
    """How long a closing command may wait: QUIT_GRACE, but not past the check's deadline
    (a server that answers everything but QUIT must not stretch a check's time)."""
    if deadline is None:
        return QUIT_GRACE
    return min(QUIT_GRACE, max(deadline - asyncio.get_running_loop().time(), 0.01))


async def close_politely(channel: Channel, close: Send, grace: float = QUIT_GRACE) -> None:
    """Send the closing command and wait up to `grace` for its reply; never fails."""
    try:
        async with asyncio.timeout(grace):
            await channel.send(close.line + b"\r\n")
            await channel.readline()
    except (TimeoutError, OSError, DialogError):
        pass


class StreamChannel:
    """A Channel over an asyncio stream pair (the reader's limit bounds each line)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def readline(self) -> bytes:
        try:
            return await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            return e.partial  # a last line without its end still counts; b"" is EOF
        except asyncio.LimitOverrunError as e:
            raise DialogError(f"reply line longer than {MAX_LINE} bytes") from e

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


async def _open_tls(target: Target, spec: CheckSpec, client: TlsClient
                    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with client.handshake_slots:
        return await asyncio.open_connection(
            target.host, target.port, limit=MAX_LINE, ssl=client.context,
            server_hostname=spec.virtualhost or "",
            # the check's own deadline, not asyncio's, ends a stalled handshake
            ssl_handshake_timeout=spec.negotiatetimeout + 1)


@contextlib.asynccontextmanager
async def connect(target: Target, spec: CheckSpec, *, tls: bool
                  ) -> AsyncIterator[StreamChannel]:
    """Open a connection (implicit TLS if `tls`) as a StreamChannel; closed on exit.

    TLS does not verify the server (SPEC Part A §6); SNI is the virtualhost if set, else
    none. Handshakes take one of the client's handshake slots, and the session is reused
    through `TlsClient.resuming` for the next check of the same target (TLS 1.3 tickets
    arrive after the handshake, so it is kept when the dialog is over).
    """
    with contextlib.ExitStack() as stack:
        if tls:
            client = current_client()
            stack.enter_context(client.resuming(target.host, target.port, spec.virtualhost))
            reader, writer = await _open_tls(target, spec, client)
        else:
            reader, writer = await asyncio.open_connection(target.host, target.port,
                                                           limit=MAX_LINE)
        try:
            yield StreamChannel(reader, writer)
        finally:
            await close_writer(writer)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream, waiting at most CLOSE_GRACE for it (a TLS peer may never answer
    close_notify, and this runs after the check's own timeout may have expired)."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except OSError:
        pass  # the peer already reset or broke the connection: it is closed either way


async def check_dialog(target: Target, spec: CheckSpec, dialog: Dialog, *, name: str,
                       tls: bool = False) -> Result:
    """Connect and run `dialog` within negotiatetimeout; the Result."""
    deadline = asyncio.get_running_loop().time() + spec.negotiatetimeout
    return await bounded(spec.negotiatetimeout,
                         _converse(target, spec, dialog, deadline, name, tls),
                         name=name, grace=BOUND_GRACE)


async def _converse(target: Target, spec: CheckSpec, dialog: Dialog, deadline: float,
                    name: str, tls: bool) -> tuple[bool, str]:
    try:
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout_at(deadline):
                channel = await stack.enter_async_context(
                    connect(target, spec, tls=tls))
            outcome = await run_dialog(channel, dialog, deadline=deadline)
    except EOFError:
        raise Down("connection closed by server") from None
    return outcome.ok, f"{name} {outcome.detail}" if outcome.ok else outcome.detail


async def check_login_dialog(target: Target, spec: CheckSpec,
                             build: Callable[[str, str], Dialog], *, name: str,
                             tls: bool) -> Result:
    """Run the dialog `build(login, passwd)` makes (ValueError: a line break in either)."""
    try:
        dialog = build(spec.login, spec.passwd)
    except ValueError:
        return Result(False, f"{name}: login or passwd contains a line break", 0.0)
    return await check_dialog(target, spec, dialog, name=name, tls=tls)
