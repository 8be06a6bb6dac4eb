"""Low-level scanning for the Perl regex translation: cursor, escapes, bracket classes."""

from __future__ import annotations

import re
from typing import Final


class PerlRegexError(ValueError):
    """A `receive` pattern that is not valid Perl or uses Perl features we cannot run."""


_POSIX: Final[dict[str, str]] = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\x0b",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": "\\w",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
    "ascii": "\\x00-\\x7f",
}

HSPACE: Final = "\\t \\xa0"
VSPACE: Final = "\\n\\x0b\\f\\r\\x85"
# Escapes that mean the same in Perl and Python inside a bracket class.
_SAME_IN_CLASS: Final = frozenset("dDwWsSntrfab")
_UNSUPPORTED: Final[dict[str, str]] = {
    "G": "\\G (end of the previous match)",
    "K": "\\K (keep left of the match)",
    "p": "\\p{...} (Unicode properties)",
    "P": "\\P{...} (Unicode properties)",
    "X": "\\X (extended grapheme cluster)",
    "C": "\\C (single byte)",
}
QUANTIFIER: Final = re.compile(r"\{(?:\d+(?:,\d*)?|,\d+)\}")


def hex_escape(code: int) -> str:
    return f"\\x{code:02x}"


def _code_point(code: int, in_class: bool) -> str:
    """A literal code point; above 0xFF it is written as its UTF-8 bytes."""
    if code <= 0xFF:
        return hex_escape(code)
    if in_class:
        raise PerlRegexError(f"code point U+{code:04X} inside a character class")
    try:
        raw = chr(code).encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise PerlRegexError(f"invalid code point {code:#x}") from exc
    return "(?:" + "".join(hex_escape(b) for b in raw) + ")"


class Scanner:
    """A cursor over Perl pattern text; `out` collects the Python pattern text."""

    def __init__(self, text: str) -> None:
        self.src = text
        self.i = 0
        self.out: list[str] = []

    def error(self, msg: str) -> PerlRegexError:
        return PerlRegexError(f"{msg} at offset {self.i}")

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.src[j] if j < len(self.src) else ""

    def read_braced(self) -> str:
        """The text of `{...}` at the cursor (cursor moves past it)."""
        end = self.src.find("}", self.i)
        if self.peek() != "{" or end < 0:
            raise self.error("missing {...}")
        body = self.src[self.i + 1 : end]
        self.i = end + 1
        return body

    def read_number(self, body: str, base: int) -> int:
        try:
            value = int(body.strip().replace("_", ""), base) if body.strip() else 0
        except ValueError as exc:
            raise self.error(f"invalid number {body!r}") from exc
        if value > 0x10FFFF:
            raise self.error(f"code point {value:#x} out of range")
        return value

    def common_escape(self, c: str, in_class: bool) -> str | None:
        """Escapes translated the same way inside and outside classes; None if not one."""
        if c == "e":
            self.i += 2
            return "\\x1b"
        if c == "c":
            ctl = self.peek(2)
            if not ctl:
                raise self.error("\\c at end of pattern")
            self.i += 3
            return hex_escape(ord(ctl.upper()) ^ 0x40) if ord(ctl) < 128 else ctl
        if c == "o":
            self.i += 2
            return _code_point(self.read_number(self.read_braced(), 8), in_class)
        if c == "x":
            self.i += 2
            if self.peek() == "{":
                return _code_point(self.read_number(self.read_braced(), 16), in_class)
            digits = ""
            while len(digits) < 2 and self.peek() and self.peek() in "0123456789abcdefABCDEF":
                digits += self.peek()
                self.i += 1
            return hex_escape(int(digits, 16) if digits else 0)
        if c.isdigit() and (in_class or c == "0"):
            digits = ""
            self.i += 1
            while len(digits) < 3 and self.peek() and self.peek() in "01234567":
                digits += self.peek()
                self.i += 1
            if not digits:  # \8 or \9 in a class: the digit itself
                self.i += 1
                return c
            return hex_escape(int(digits, 8) & 0xFF)
        if c == "N" and self.peek(2) == "{" and not QUANTIFIER.match(self.src, self.i + 2):
            raise self.error("\\N{...} (named characters) is not supported")
        if c in _UNSUPPORTED:
            raise self.error(f"{_UNSUPPORTED[c]} is not supported")
        return None

    def char_class(self) -> None:
        self.i += 1
        out = ["["]
        if self.peek() == "^":
            out.append("^")
            self.i += 1
        first = True
        while True:
            c = self.peek()
            if not c:
                raise self.error("unterminated character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.peek(1) in ":.=":
                out.append(self.posix_class())
            elif c == "\\":
                out.append(self.class_escape())
            elif c in "[&~|":
                out.append("\\" + c)  # literal here; escaped so Python sees no set operation
                self.i += 1
            elif c == "-" and out[-1] == "-":
                out.append("\\-")
                self.i += 1
            else:
                out.append(c)
                self.i += 1
        out.append("]")
        self.out.append("".join(out))

    def posix_class(self) -> str:
        kind = self.peek(1)
        end = self.src.find(kind + "]", self.i + 2)
        if end < 0:  # not a POSIX class after all: a literal [
            self.i += 1
            return "\\["
        name = self.src[self.i + 2 : end]
        self.i = end + 2
        if kind != ":":
            raise self.error(f"POSIX [{kind}{name}{kind}] is not supported")
        if name.startswith("^"):
            raise self.error(f"negated POSIX class [:{name}:] is not supported")
        if name not in _POSIX:
            raise self.error(f"unknown POSIX class [:{name}:]")
        return _POSIX[name]

    def escape_letter(self, in_class: bool) -> tuple[str, str | None]:
        """The character after a backslash, and the translation of an escape that means
        the same inside and outside classes (None for the others). Either way the escape
        is consumed: the caller translates the others from the character."""
        c = self.peek(1)
        if not c:
            raise self.error("trailing backslash")
        common = self.common_escape(c, in_class)
        if common is None:
            self.i += 2
        return c, common

    def class_escape(self) -> str:
        c, common = self.escape_letter(in_class=True)
        if common is not None:
            return common
        if c == "h":
            return HSPACE
        if c == "v":
            return VSPACE
        if c in "HVRNz":
            raise self.error(f"\\{c} inside a character class is not supported")
        if c in _SAME_IN_CLASS:
            return "\\" + c
        if c.isascii() and c.isalpha():
            return c
        return re.escape(c)

    # -- groups --------------------------------------------------------------------
