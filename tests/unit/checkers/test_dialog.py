"""The line-dialog driver and the POP, IMAP and NNTP dialogs, against in-memory peers."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkers import imap, nntp, pop
from checkers._dialog import (
    MAX_LINE,
    Dialog,
    DialogError,
    Expect,
    Send,
    StreamChannel,
    excerpt,
    run_dialog,
)
from checkers.base import CheckSpec, Target, bounded
from ldirectord.config.model import Service


@dataclass
class MemoryPeer:
    """A scripted server: its greeting, then one reply per command (matched by prefix).

    A command without a scripted reply gets none; reading past the last queued reply is
    EOF, as when a server closes the connection.
    """

    greeting: list[bytes]
    replies: dict[bytes, list[bytes]] = field(default_factory=dict)
    sent: list[bytes] = field(default_factory=list)
    queue: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.queue = list(self.greeting)

    async def readline(self) -> bytes:
        return self.queue.pop(0) if self.queue else b""

    async def send(self, data: bytes) -> None:
        assert data.endswith(b"\r\n") and data.count(b"\n") == 1
        self.sent.append(data[:-2])
        for prefix, lines in self.replies.items():
            if data.startswith(prefix):
                self.queue += lines
                break


async def play(peer: MemoryPeer, dialog: Dialog) -> tuple[bool, str]:
    outcome = await run_dialog(peer, dialog)
    return outcome.ok, outcome.detail


POP_SERVER = {b"USER bob": [b"+OK\r\n"], b"PASS secret": [b"+OK Logged in.\r\n"],
              b"PASS": [b"-ERR [AUTH] Authentication failed.\r\n"], b"QUIT": [b"+OK bye\r\n"]}


@pytest.mark.asyncio
@pytest.mark.parametrize(("greeting", "login", "passwd", "ok", "detail", "sent"), [
    (b"+OK ready\r\n", "", "", True, "+OK ready", [b"QUIT"]),
    (b"+OK ready\r\n", "bob", "secret", True, "+OK Logged in.",
     [b"USER bob", b"PASS secret", b"QUIT"]),
    (b"+OK ready\r\n", "bob", "wrong", False,
     "POP login failed: -ERR [AUTH] Authentication failed.",
     [b"USER bob", b"PASS wrong"]),
    (b"-ERR go away\r\n", "", "", False, "POP greeting: -ERR go away", []),
    (b"* OK IMAP\r\n", "", "", False, "POP greeting: * OK IMAP", []),
    (b"+ok lower case\r\n", "", "", True, "+ok lower case", [b"QUIT"]),
])
async def test_pop_dialog(greeting: bytes, login: str, passwd: str, ok: bool, detail: str,
                          sent: list[bytes]) -> None:
    peer = MemoryPeer([greeting], POP_SERVER)
    assert await play(peer, pop.pop_dialog(login, passwd)) == (ok, detail)
    assert peer.sent == sent


IMAP_SERVER = {
    b'a1 LOGIN "bob" "secret"': [b"* CAPABILITY IMAP4rev1\r\n", b"a1 OK Logged in\r\n"],
    b"a1 LOGIN": [b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"],
    b"a2 LOGOUT": [b"* BYE\r\n", b"a2 OK\r\n"],
}


@pytest.mark.asyncio
@pytest.mark.parametrize(("greeting", "login", "passwd", "ok", "detail", "sent"), [
    (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "", "", True,
     "* OK [CAPABILITY IMAP4rev1] ready", [b"a2 LOGOUT"]),
    (b"* OK ready\r\n", "bob", "secret", True, "a1 OK Logged in",
     [b'a1 LOGIN "bob" "secret"', b"a2 LOGOUT"]),
    (b"* OK ready\r\n", "bob", "nope", False,
     "IMAP login failed: a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
     [b'a1 LOGIN "bob" "nope"']),
    # PREAUTH: already authenticated, so LOGIN would be an error; the check is up.
    (b"* PREAUTH welcome\r\n", "bob", "secret", True, "* PREAUTH welcome", [b"a2 LOGOUT"]),
    (b"* BYE too busy\r\n", "", "", False, "IMAP greeting: * BYE too busy", []),
    (b"+OK POP3\r\n", "", "", False, "IMAP greeting: +OK POP3", []),
])
async def test_imap_dialog(greeting: bytes, login: str, passwd: str, ok: bool, detail: str,
                           sent: list[bytes]) -> None:
    peer = MemoryPeer([greeting], IMAP_SERVER)
    assert await play(peer, imap.imap_dialog(login, passwd)) == (ok, detail)
    assert peer.sent == sent


def test_imap_login_quotes_specials() -> None:
    steps = imap.login_steps(b"a1", 'we"ird\\user', "p w")
    assert steps[0] == Send(b'a1 LOGIN "we\\"ird\\\\user" "p w"')
    assert isinstance(steps[1], Expect) and steps[1].ok == (b"a1 OK",)


@pytest.mark.asyncio
async def test_imap_login_sends_non_ascii_as_literals() -> None:
    user, pw = "jürgen".encode(), "pässwörd".encode()
    peer = MemoryPeer([b"* OK ready\r\n"], {
        b"a1 LOGIN {%d}" % len(user): [b"+ go ahead\r\n"],
        user + b" {%d}" % len(pw): [b"* OK noise\r\n", b"+ go ahead\r\n"],
        pw: [b"a1 OK Logged in\r\n"],
    })
    assert await play(peer, imap.imap_dialog("jürgen", "pässwörd")) == (True, "a1 OK Logged in")
    assert peer.sent == [b"a1 LOGIN {7}", user + b" {10}", pw, b"a2 LOGOUT"]


@pytest.mark.asyncio
async def test_imap_literal_refused() -> None:
    peer = MemoryPeer([b"* OK ready\r\n"], {b'a1 LOGIN "bob" {': [b"a1 BAD no literals\r\n"]})
    assert await play(peer, imap.imap_dialog("bob", "pässwörd")) == (
        False, "IMAP login failed: a1 BAD no literals")


def _parse_imap_strings(lines: list[bytes]) -> list[bytes]:
    """Read back the astrings after LOGIN from lines as an IMAP server would."""
    data = b"\r\n".join(lines)[len(b"a1 LOGIN "):]
    out = []
    while data:
        data = data.lstrip(b" ")
        if data.startswith(b'"'):
            i, value = 1, bytearray()
            while data[i:i + 1] != b'"':
                if data[i:i + 1] == b"\\":
                    i += 1
                value += data[i:i + 1]
                i += 1
            out.append(bytes(value))
            data = data[i + 1:]
        else:
            assert data.startswith(b"{")
            size_end = data.index(b"}")
            n = int(data[1:size_end])
            body = data[size_end + 3:]  # past "}\r\n"
            out.append(body[:n])
            data = body[n:]
    return out


@given(st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=["Cs"])),
       st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=["Cs"])))
def test_imap_login_round_trips_any_credentials(login: str, passwd: str) -> None:
    lines = [s.line for s in imap.login_steps(b"a1", login, passwd) if isinstance(s, Send)]
    assert _parse_imap_strings(lines) == [login.encode(), passwd.encode()]


@pytest.mark.parametrize("bad", ["bob\r\nDELE 1", "x\n", "nul\0"])
def test_commands_cannot_carry_line_breaks(bad: str) -> None:
    with pytest.raises(ValueError):
        pop.pop_dialog(bad, "")
    with pytest.raises(ValueError):
        imap.imap_dialog("bob", bad)


@pytest.mark.asyncio
async def test_checker_refuses_line_breaks_without_connecting() -> None:
    spec = CheckSpec(Service.POP, login="bob\r\nQUIT", negotiatetimeout=1)
    result = await pop.check_pop(Target("127.0.0.1", 9), spec)
    assert not result.ok and "line break" in result.detail


@pytest.mark.asyncio
@pytest.mark.parametrize(("banner", "ok"), [
    (b"200 news.example.org InterNetNews NNRP server ready (posting ok)\r\n", True),
    (b"201 no posting\r\n", True),
    (b"400 service temporarily unavailable\r\n", False),
    (b"502 access denied\r\n", False),
])
async def test_nntp_dialog(banner: bytes, ok: bool) -> None:
    peer = MemoryPeer([banner], {b"QUIT": [b"205 bye\r\n"]})
    result_ok, detail = await play(peer, nntp.NNTP_DIALOG)
    assert result_ok is ok
    text = banner.decode().rstrip()
    assert detail == (text if ok else f"NNTP banner: {text}")
    assert peer.sent == ([b"QUIT"] if ok else [])


@pytest.mark.asyncio
async def test_eof_mid_dialog_is_a_dialog_error() -> None:
    peer = MemoryPeer([b"+OK ready\r\n"], {})  # never answers USER
    with pytest.raises(DialogError, match="connection closed"):
        await run_dialog(peer, pop.pop_dialog("bob", "secret"))


@pytest.mark.asyncio
async def test_silent_quit_does_not_fail_the_check() -> None:
    peer = MemoryPeer([b"200 hi\r\n"], {})  # closes instead of answering QUIT
    assert await play(peer, nntp.NNTP_DIALOG) == (True, "200 hi")
    assert peer.sent == [b"QUIT"]


def _channel(data: bytes, eof: bool = True) -> StreamChannel:
    reader = asyncio.StreamReader(limit=MAX_LINE)
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return StreamChannel(reader, writer=None)  # type: ignore[arg-type]  # reads only


@pytest.mark.asyncio
async def test_stream_channel_bounds_lines() -> None:
    channel = _channel(b"x" * (MAX_LINE + 10) + b"\r\n")
    with pytest.raises(DialogError, match="longer than"):
        await channel.readline()


@pytest.mark.asyncio
async def test_stream_channel_lines_and_eof() -> None:
    channel = _channel(b"+OK one\r\n+OK two")
    assert await channel.readline() == b"+OK one\r\n"
    assert await channel.readline() == b"+OK two"  # unterminated last line still counts
    assert await channel.readline() == b""


async def _raise(exc: BaseException) -> tuple[bool, str]:
    raise exc


@pytest.mark.asyncio
@pytest.mark.parametrize(("exc", "detail"), [
    (TimeoutError(), "POP: timeout after 1.5s"),
    (ConnectionRefusedError(111, "Connection refused"), "POP: connection refused"),
    (ConnectionResetError(104, "Connection reset by peer"), "POP: connection reset by server"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
     "POP: TLS handshake failed: "),
    (DialogError("connection closed by server"), "POP: connection closed by server"),
    (OSError(113, "No route to host"), "POP: no route to host"),
])
async def test_failures_are_worded_by_bounded(exc: BaseException, detail: str) -> None:
    result = await bounded(1.5, _raise(exc), name="POP")
    assert not result.ok and result.detail.startswith(detail), result


def test_excerpt_is_one_printable_short_line() -> None:
    text = excerpt(bytes(range(256)) * 4 + b"\r\n")
    assert text.isprintable() and len(text) <= 125
    assert excerpt(b"\r\n") == "(empty line)"
