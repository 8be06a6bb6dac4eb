"""The checker contract (Target, CheckSpec, Result) and the toolkit every checker fails with.

A checker never raises for anything a server does: refused, reset, timeout, garbage, TLS
failure and oversized replies all become ``Result(ok=False, detail=...)``. It bounds every
await by the spec's timeouts, reads bounded amounts, and closes what it opened. Only a bug
in our own code may raise; the daemon turns that into a failed check with a traceback.

The toolkit below the contract holds the one wording of those failures (docs/checks.md
lists every detail): `bounded` runs a check's work within its time and turns a timeout,
a `Down` or a socket error into the failed Result, `describe_os_error` words socket and
TLS errors, and `one_line` squeezes a server's text into a detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import os
import ssl
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Final
from typing import Protocol as TypingProtocol

from ldirectord.config.model import HttpMethod, IpvsProtocol, Service
from ldirectord.config.perlre import ReceivePattern
from ldirectord.netloc import netloc


@dataclass(frozen=True, slots=True)
class Target:
    """Where to check: the real server, or checkport overriding its port."""

    host: str  # literal address; IPv6 without brackets
    port: int

    @property
    def netloc(self) -> str:
        """`host:port`, with IPv6 hosts in brackets."""
        return netloc(self.host, self.port)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What to check, taken from the virtual service (and per-real overrides).

    Each checker reads the fields it needs: ping its checkcount, external its checkcommand
    and the arguments the original passes it, the negotiate checkers the rest.
    """

    service: Service
    protocol: IpvsProtocol = IpvsProtocol.TCP  # the virtual's protocol; FWM services check over TCP
    request: str = "/"  # always starts with "/" unless it is an absolute URL
    receive: ReceivePattern | None = None  # None: receive was empty; match with checkers.match
    virtualhost: str | None = None
    httpmethod: HttpMethod = HttpMethod.GET
    login: str = ""
    passwd: str = ""
    database: str = ""
    secret: str = ""
    checktimeout: float = 5.0
    negotiatetimeout: float = 30.0
    checkcount: int = 1  # ping: attempts, each within checktimeout
    checkcommand: str = ""  # external: the program run
    commandargs: tuple[str, ...] = ()  # external: VIP VPORT RIP RPORT, as the original


@dataclass(frozen=True, slots=True)
class Result:
    """One check outcome; `detail` is one line for the log and the monitor file."""

    ok: bool
    detail: str
    elapsed: float  # seconds
    weight: int | None = None  # only checkers that may set a weight use it


class Checker(TypingProtocol):
    """A checker: one coroutine that checks one target (every check type has one)."""

    async def __call__(self, target: Target, spec: CheckSpec) -> Result: ...


# --- the toolkit: one wording for every way a server fails a check ----------------------

#: Longest detail quoted from a server or a library message (see `one_line`).
DETAIL_CHARS = 120


class Down(Exception):
    """The server did something that fails the check; `detail` is the Result's detail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def one_line(text: str, limit: int = DETAIL_CHARS) -> str:
    """`text` with its whitespace runs made single spaces, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def timed_out(seconds: float) -> str:
    """The detail of a check (or one step of it) that ran out of time."""
    return f"timeout after {seconds:g}s"


def match_timed_out(seconds: float) -> str:
    """The detail of a check whose receive pattern was still matching at its deadline."""
    return f"receive pattern took longer than the check timeout ({seconds:g}s)"


def tls_failed(reason: str) -> str:
    """The detail of a TLS handshake that failed for `reason` (OpenSSL's, when it has one)."""
    return one_line(f"TLS handshake failed: {reason}")


#: The errors the server causes, by errno: a library's own OSError subclass (aiohttp's
#: ClientOSError) carries the errno without being ConnectionResetError and the like.
_BY_ERRNO: Final = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by server",
    errno.EPIPE: "connection closed by server",
    errno.ECONNABORTED: "connection closed by server",
}


def describe_os_error(exc: OSError) -> str:
    """The detail for a socket or TLS error: the system's message in lower case, with the
    server as the peer ("connection refused", "connection reset by server", ...)."""
    match exc:
        case ssl.SSLError():
            # `reason` is OpenSSL's short name; an SSLError raised by hand has none
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            return tls_failed(reason or type(exc).__name__)
        case ConnectionRefusedError():
            return _BY_ERRNO[errno.ECONNREFUSED]
        case ConnectionResetError():
            return _BY_ERRNO[errno.ECONNRESET]
        case BrokenPipeError() | ConnectionAbortedError():
            return _BY_ERRNO[errno.EPIPE]
        case OSError(errno=int(code)) if code in _BY_ERRNO:
            return _BY_ERRNO[code]
        case OSError(errno=int(code)) if code in errno.errorcode:
            # asyncio words a failed connect in its own way ("Connect call failed ...")
            return os.strerror(code).lower()
        case OSError() if exc.strerror:
            return exc.strerror.lower()
        case _:
            return one_line(str(exc) or type(exc).__name__)


@dataclass(slots=True)
class _Watch:
    """Whether the bounded work is matching receive (so a timeout there is the match's)."""

    matching: bool = False


_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar(
    "ldirectord_check_watch", default=None)


@contextlib.contextmanager
def matching() -> Iterator[None]:
    """Mark the enclosed await as a receive match (checkers/match.py uses it): a check
    whose time runs out there fails with `match_timed_out`, not `timed_out`."""
    watch = _WATCH.get()
    if watch is None:
        yield
        return
    watch.matching = True
    try:
        yield
    except asyncio.CancelledError:
        raise  # left marked: the check's timeout cut the match short
    except BaseException:
        watch.matching = False
        raise
    watch.matching = False


async def bounded(limit: float, work: Awaitable[tuple[bool, str]], *, name: str = "",
                  grace: float = 0.0, timeout_detail: str | None = None) -> Result:
    """Await `work` (a verdict and its detail) within `limit` seconds; the Result, with
    the time it took.

    Failures get the one wording (docs/checks.md), prefixed with `name: ` if a name is
    given: running out of time is `timed_out(limit)`, a `Down` its detail, an OSError
    `describe_os_error`'s. Time that runs out while receive is matching is the match's
    (`match_timed_out`, unprefixed, as checkers/match.py words it). `grace` lets work
    that bounds itself by the same deadline finish its cleanup (closing a socket) after
    it. `timeout_detail` replaces `timed_out(limit)` for a check that keeps the original's
    own words for a timeout. Cancellation propagates; the work's own cleanup runs as it
    unwinds.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    watch = _Watch()
    token = _WATCH.set(watch)
    try:
        async with asyncio.timeout(limit + grace):
            ok, detail = await work
        return Result(ok, detail, loop.time() - start)
    except TimeoutError:
        if watch.matching:
            return Result(False, match_timed_out(limit), loop.time() - start)
        failure = timeout_detail or timed_out(limit)
    except Down as down:
        failure = down.detail
    except OSError as exc:
        failure = describe_os_error(exc)
    finally:
        _WATCH.reset(token)
    return Result(False, f"{name}: {failure}" if name else failure, loop.time() - start)
