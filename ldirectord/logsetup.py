"""Log lines in the original's formats: a file reopened per line, syslog, stdout or stderr.

Destinations (SPEC Part B §5.3):

    mode             destination                     line
    -d               stderr                          <message>   (debug lines: DEBUG2: <message>)
    supervised=yes   stdout                          [<ctime>] <message>
    logfile="/path"  the file, opened per line       [<ctime>|<CFGNAME>|<pid>] <message>
    logfile="local0" syslog, ident ldirectord, pid   <message> at priority info

The file is opened, appended to and closed for every line, so logrotate needs no signal.
Control characters in a record (ESC, CR, NUL, DEL, C1, Unicode line and format
separators: text from a config file or a server) are shown escaped, `\x1b`, `\u2028`, so
they cannot forge a line or drive a terminal; TAB, LF and ordinary text are unchanged.
A line that cannot be written to its file goes to stderr (which is /dev/null for a daemon).
Everything is logged through the stdlib logger named "ldirectord"; `configure` swaps the
one handler, so a reload that changes `logfile` takes effect at once and a failed reload
leaves it alone.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import TextIO

LOGGER_NAME = "ldirectord"
log = logging.getLogger(LOGGER_NAME)

DEFAULT_LOGFILE = "/var/log/ldirectord.log"


class LogMode(Enum):
    """Where log lines go."""

    DEBUG = "debug"  # -d: stderr, plain
    SUPERVISED = "supervised"  # stdout, [ctime] msg
    FILE = "file"  # [ctime|CFGNAME|pid] msg
    SYSLOG = "syslog"  # facility named by logfile=


@dataclass(frozen=True, slots=True)
class LogDest:
    """One resolved log destination."""

    mode: LogMode
    target: str = ""  # the file path or the syslog facility
    cfgname: str = "ldirectord"


def dest_for(logfile: str, cfgname: str, *, debug: bool, supervised: bool) -> LogDest:
    """The destination the original picks for these settings (-d beats supervised beats file)."""
    if debug:
        return LogDest(LogMode.DEBUG, cfgname=cfgname)
    if supervised:
        return LogDest(LogMode.SUPERVISED, cfgname=cfgname)
    if logfile.startswith("/"):
        return LogDest(LogMode.FILE, logfile, cfgname)
    return LogDest(LogMode.SYSLOG, logfile, cfgname)


_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Cc: C0/C1 controls and DEL; Cf: format (bidi overrides, zero-width, BOM, tags);
# Zl/Zp: U+2028/U+2029; Cs: lone surrogates.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_control(ch: str) -> bool:
    return ch not in "\t\n" and unicodedata.category(ch) in _ESCAPED_CATEGORIES


def escape_controls(text: str) -> str:
    """`text` with control characters escaped (see the module doc); the same object when
    there is none, so ordinary text stays byte-identical."""
    if text.isascii():
        if _ASCII_CONTROLS.search(text) is None:
            return text
        return _ASCII_CONTROLS.sub(lambda m: _escape(m.group()), text)
    if not any(_is_control(ch) for ch in text):
        return text
    return "".join(_escape(ch) if _is_control(ch) else ch for ch in text)


class EscapeControls(logging.Filter):
    """Escapes control characters in every record a handler of ours writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a bad format: leave it to the handler's error path
            return True
        safe = escape_controls(msg)
        if safe is not msg:
            record.msg, record.args = safe, None
        return True


def ctime(when: float | None = None) -> str:
    """Perl's scalar localtime: `Thu Nov 26 08:10:32 2026` (day padded with a space)."""
    return time.ctime(time.time() if when is None else when)


class _StreamHandler(logging.Handler):
    """Writes to a stream looked up at emit time, so tests that swap sys.stderr still see it."""

    def __init__(self, which: str, stamped: bool) -> None:
        super().__init__(logging.DEBUG)
        self._which = which
        self._stamped = stamped

    def _stream(self) -> TextIO:
        return sys.stderr if self._which == "stderr" else sys.stdout

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if record.levelno < logging.INFO:
                msg = f"DEBUG2: {msg}"
            if record.exc_info and record.levelno < logging.INFO:
                msg += "\n" + logging.Formatter().formatException(record.exc_info)
            line = f"[{ctime(record.created)}] {msg}" if self._stamped else msg
            stream = self._stream()
            stream.write(line + "\n")
            stream.flush()
        except Exception:  # logging must never take the daemon down
            self.handleError(record)


class LineFileHandler(logging.Handler):
    """Appends `[ctime|CFGNAME|pid] msg` to a file opened and closed for every line."""

    def __init__(self, path: str, cfgname: str) -> None:
        super().__init__(logging.INFO)
        self.path = path
        self.cfgname = cfgname

    def emit(self, record: logging.LogRecord) -> None:
        line = f"[{ctime(record.created)}|{self.cfgname}|{os.getpid()}] {record.getMessage()}\n"
        try:
            with open(self.path, "a", encoding="utf-8", errors="replace") as fh:
                fh.write(line)
        except OSError:
            try:
                sys.stderr.write(line)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


class InfoSysLogHandler(logging.handlers.SysLogHandler):
    """Syslog with ident `ldirectord[<pid>]: ` and every message at priority info."""

    def mapPriority(self, levelName: str) -> str:
        return "info"

    def format(self, record: logging.LogRecord) -> str:
        return f"ldirectord[{os.getpid()}]: {record.getMessage()}"


def _syslog_handler(facility: str) -> logging.Handler:
    code = logging.handlers.SysLogHandler.facility_names.get(
        facility.lower(), logging.handlers.SysLogHandler.LOG_DAEMON
    )
    for address in ("/dev/log", "/var/run/syslog"):
        if os.path.exists(address):
            try:
                handler = InfoSysLogHandler(address=address, facility=code)
                handler.setLevel(logging.INFO)
                return handler
            except OSError:
                continue
    # No syslog socket: the line is not lost, it goes where the original's would (stderr).
    return _StreamHandler("stderr", stamped=False)


def make_handler(dest: LogDest) -> logging.Handler:
    handler = _make_handler(dest)
    handler.addFilter(EscapeControls())
    return handler


def _make_handler(dest: LogDest) -> logging.Handler:
    match dest.mode:
        case LogMode.DEBUG:
            return _StreamHandler("stderr", stamped=False)
        case LogMode.SUPERVISED:
            handler = _StreamHandler("stdout", stamped=True)
            handler.setLevel(logging.INFO)
            return handler
        case LogMode.FILE:
            return LineFileHandler(dest.target, dest.cfgname)
        case LogMode.SYSLOG:
            return _syslog_handler(dest.target)


def configure(dest: LogDest) -> None:
    """Send every line of the "ldirectord" logger to `dest` (and nowhere else)."""
    handler = make_handler(dest)
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if dest.mode is LogMode.DEBUG else logging.INFO)
    log.propagate = False


def reset() -> None:
    """Remove our handler (tests, and the end of an in-process run)."""
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    log.propagate = True
    log.setLevel(logging.NOTSET)
