"""ldirectord.cf text -> Line records, applying the original's section rules (SPEC 2.1).

Rules of this file:
- A column-0 `virtual=`/`virtual6=` line opens a section. Each following line that is a
  full-line comment is skipped; otherwise everything from the first `#` is removed, TABs
  become 4 spaces, and the line belongs to the section if it then starts with at least 4
  spaces followed by text. Any other line (a blank line too) ends the section and is read
  again as a global line, exactly as the original does.
- Beyond the original: CRLF line ends are accepted and trailing whitespace is ignored
  (the original takes it into values, where it turns `yes` into an invalid value).
- A line that is not valid UTF-8 is reported, unless it is a comment; so is a line longer
  than MAX_LINE bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

_KEY_VALUE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)\s*=\s*(.*)", re.DOTALL)
_BARE_WORD = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)")
_VIRTUAL = re.compile(r"virtual6?\s*=")
_SECTION_INDENT = re.compile(r"( {4,})(\S.*)", re.DOTALL)
_COMMENT_LINE = re.compile(r"\s*#")
MAX_LINE: Final = 8192


class Kind(Enum):
    """Where a line sits."""

    GLOBAL = "global"  # column 0, outside a section (this includes `virtual=` lines)
    SECTION = "section"  # inside a virtual section
    STRAY = "stray"  # indented but not inside a section (or indented by fewer than 4)


@dataclass(frozen=True, slots=True)
class Line:
    """One meaningful line: `key`/`value` when it has the `name = value` shape.

    `key` is None when the text is not `name=value` (nor a bare word); `text` is the
    line without its indentation (and, in a section, without its `#` comment).
    """

    lineno: int
    kind: Kind
    indent: int  # columns of leading whitespace, a TAB counting 4
    key: str | None
    value: str
    text: str
    had_hash: bool = False  # a `#` was cut from a section line (or sits in a global value)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be read at all (not UTF-8)."""

    lineno: int
    message: str


def _split(text: str) -> tuple[str | None, str]:
    m = _KEY_VALUE.fullmatch(text)
    if m:
        return m.group(1), m.group(2)
    m = _BARE_WORD.fullmatch(text)
    if m:
        return m.group(1), ""
    return None, ""


def _indent_width(raw: str) -> int:
    width = 0
    for ch in raw:
        if ch == "\t":
            width += 4
        elif ch == " ":
            width += 1
        else:
            break
    return width


def _decode(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its LF or CRLF)."""
    for n, raw in enumerate(data.split(b"\n"), start=1):
        yield n, raw[:-1] if raw.endswith(b"\r") else raw


def lex(data: bytes) -> Iterator[Line | BadLine]:
    """Every meaningful line of the file, in order, classified as the original does."""
    lines = list(split_lines(data))
    if lines and lines[-1][1] == b"":
        lines.pop()  # the empty piece after the final newline
    in_section = False
    for lineno, raw in lines:
        if len(raw) > MAX_LINE:
            # Some value patterns cost quadratic time in the line's length: refuse
            # absurd lines instead of stalling a reload.
            yield BadLine(lineno, f"line longer than {MAX_LINE} characters")
            continue
        text = _decode(raw)
        if text is None:
            if _COMMENT_LINE.match(raw.decode("latin-1")):
                continue
            yield BadLine(lineno, "line is not valid UTF-8 text")
            continue
        text = text.rstrip()
        if in_section:
            if _COMMENT_LINE.match(text):
                continue
            had_hash = "#" in text
            body = text.split("#", 1)[0].replace("\t", "    ").rstrip()
            m = _SECTION_INDENT.fullmatch(body)
            if m:
                key, value = _split(m.group(2))
                yield Line(lineno, Kind.SECTION, len(m.group(1)), key, value, m.group(2),
                           had_hash)
                continue
            in_section = False
        if not text or _COMMENT_LINE.match(text):
            continue
        indent = _indent_width(text)
        if indent or text[0].isspace():
            stripped = text.lstrip()
            key, value = _split(stripped.split("#", 1)[0].rstrip())
            yield Line(lineno, Kind.STRAY, indent, key, value, stripped, "#" in stripped)
            continue
        key, value = _split(text)
        if _VIRTUAL.match(text):
            in_section = True
        yield Line(lineno, Kind.GLOBAL, 0, key, value, text, "#" in value)
