"""Perl regular expressions (the `receive=` strings) translated to Python `re` on bytes.

The original interpolates `receive` into a Perl match without `use utf8`, so the pattern
and the subject are both byte strings. We do the same: the translated pattern is encoded
as UTF-8 and compiled as a bytes pattern, and checkers match it against raw bytes.

Translated so that the match is the same as Perl's:

- `\\z` (absolute end) and `\\Z` (end, or before a final newline); `\\A` and `$` (without
  /m Perl's `$` and Python's both match at the end or before a final newline).
- `\\h` `\\H` (horizontal space: TAB, space, 0xA0), `\\v` `\\V` (vertical space: LF, VT,
  FF, CR, 0x85; Python's `\\v` is VT only), `\\R`, `\\N` (not a newline), `\\e`, `\\cX`,
  `\\o{...}`, `\\x{...}` (a code point above 0xFF becomes its UTF-8 bytes), `\\Q...\\E`.
- Inline flags anywhere: `(?i)` in the middle of a pattern or group applies to the rest
  of that group (Python only accepts them at the very start), also `(?^...)`; flags
  i, m, s, x.
- Named groups and references: `(?<n>...)`, `(?'n'...)`, `\\k<n>`, `\\k{n}`, `\\k'n'`,
  `\\g{n}`, `\\gN`, `\\g{-N}`.
- POSIX classes inside brackets: `[[:digit:]]`, `[[:alpha:]]` ... (not negated ones).
- An unknown escape of a letter (`\\y`) is the letter, as in Perl; `\\d`, `\\w`, `\\s`
  and case-insensitive matching are ASCII-only, as in Perl on byte strings.
- Possessive quantifiers (`a++`) and atomic groups (`(?>...)`) are kept: Python 3.11
  has them.

Not supported (a `receive` using them is refused at load time with `PerlRegexError`):
code `(?{...})` and `(??{...})`, recursion `(?R)` `(?1)` `(?&name)` `(?P>name)`, `\\G`,
`\\K`, branch reset `(?|...)`, backtracking verbs `(*FAIL)` etc., Unicode properties
`\\p{...}` `\\P{...}`, `\\X`, `\\C`, `\\b{...}`, `\\N{name}`, negated POSIX classes
`[[:^alpha:]]`, the flags n, p, a, d, l, u, and variable-length lookbehind.
"""

from __future__ import annotations

import re
import warnings
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

_HSPACE: Final = "\\t \\xa0"
_VSPACE: Final = "\\n\\x0b\\f\\r\\x85"
# Escapes that mean the same in Perl and Python (outside a class).
_SAME: Final = frozenset("dDwWsSbBAntrfa")
_SAME_IN_CLASS: Final = frozenset("dDwWsSntrfab")
_UNSUPPORTED: Final[dict[str, str]] = {
    "G": "\\G (end of the previous match)",
    "K": "\\K (keep left of the match)",
    "p": "\\p{...} (Unicode properties)",
    "P": "\\P{...} (Unicode properties)",
    "X": "\\X (extended grapheme cluster)",
    "C": "\\C (single byte)",
}
_FLAG_CHARS: Final = frozenset("imsx")
_MAX_LEN: Final = 20_000
_CONDITION: Final = re.compile(
    r"\(\?\((?:(\d+)|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|([A-Za-z_]\w*))\)")


def _hex_escape(code: int) -> str:
    return f"\\x{code:02x}"


def _code_point(code: int, in_class: bool) -> str:
    """A literal code point; above 0xFF it is written as its UTF-8 bytes."""
    if code <= 0xFF:
        return _hex_escape(code)
    if in_class:
        raise PerlRegexError(f"code point U+{code:04X} inside a character class")
    try:
        raw = chr(code).encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise PerlRegexError(f"invalid code point {code:#x}") from exc
    return "(?:" + "".join(_hex_escape(b) for b in raw) + ")"


class _Translator:
    """One pass over the Perl pattern, emitting Python pattern text."""

    def __init__(self, text: str) -> None:
        self.src = text
        self.i = 0
        self.out: list[str] = []
        self.groups = 0  # capturing groups opened so far
        # One entry per open group (and one for the whole pattern): how many scoped
        # flag groups `(?i:` were opened inside it and must be closed at its end.
        self.scopes: list[list[str]] = [[]]

    def error(self, msg: str) -> PerlRegexError:
        return PerlRegexError(f"{msg} at offset {self.i}")

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.src[j] if j < len(self.src) else ""

    def run(self) -> str:
        while self.i < len(self.src):
            c = self.src[self.i]
            if c == "\\":
                self.escape()
            elif c == "[":
                self.char_class()
            elif c == "(":
                self.open_group()
            elif c == ")":
                if len(self.scopes) == 1:
                    raise self.error("unmatched )")
                self.close_flag_scopes()
                self.scopes.pop()
                self.out.append(")")
                self.i += 1
            elif c == "|":
                flags = self.close_flag_scopes()
                self.out.append("|")
                for f in flags:
                    self.out.append(f"(?{f}:")
                self.scopes[-1].extend(flags)
                self.i += 1
            else:
                self.out.append(c)
                self.i += 1
        if len(self.scopes) > 1:
            raise self.error("missing )")
        self.close_flag_scopes()
        return "".join(self.out)

    def close_flag_scopes(self) -> list[str]:
        flags = self.scopes[-1]
        self.out.append(")" * len(flags))
        self.scopes[-1] = []
        return flags

    # -- escapes -------------------------------------------------------------------

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
            return _hex_escape(ord(ctl.upper()) ^ 0x40) if ord(ctl) < 128 else ctl
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
            return _hex_escape(int(digits, 16) if digits else 0)
        if c.isdigit() and (in_class or c == "0"):
            digits = ""
            self.i += 1
            while len(digits) < 3 and self.peek() and self.peek() in "01234567":
                digits += self.peek()
                self.i += 1
            if not digits:  # \8 or \9 in a class: the digit itself
                self.i += 1
                return c
            return _hex_escape(int(digits, 8) & 0xFF)
        if c == "N" and self.peek(2) == "{":
            raise self.error("\\N{...} (named characters) is not supported")
        if c in _UNSUPPORTED:
            raise self.error(f"{_UNSUPPORTED[c]} is not supported")
        return None

    def escape(self) -> None:
        c = self.peek(1)
        if not c:
            raise self.error("trailing backslash")
        common = self.common_escape(c, in_class=False)
        if common is not None:
            self.out.append(common)
            return
        self.i += 2
        if c == "z":
            self.out.append("\\Z")
        elif c == "Z":
            self.out.append("(?=\\n?\\Z)")
        elif c == "h":
            self.out.append(f"[{_HSPACE}]")
        elif c == "H":
            self.out.append(f"[^{_HSPACE}]")
        elif c == "v":
            self.out.append(f"[{_VSPACE}]")
        elif c == "V":
            self.out.append(f"[^{_VSPACE}]")
        elif c == "R":
            self.out.append(f"(?:\\r\\n|[{_VSPACE}])")
        elif c == "N":
            self.out.append("[^\\n]")
        elif c == "Q":
            end = self.src.find("\\E", self.i)
            end = len(self.src) if end < 0 else end
            self.out.append(re.escape(self.src[self.i : end]))
            self.i = min(end + 2, len(self.src))
        elif c == "E":
            pass  # a \E without \Q is ignored, as in Perl
        elif c == "b" and self.peek() == "{":
            raise self.error("\\b{...} (Unicode boundaries) is not supported")
        elif c == "k":
            self.out.append(f"(?P={self.reference_name()})")
        elif c == "g":
            self.out.append(self.g_reference())
        elif c.isdigit():
            digits = c
            while self.peek().isdigit() and self.peek().isascii():
                digits += self.peek()
                self.i += 1
            self.out.append(self.backref_or_octal(digits))
        elif c in _SAME:
            self.out.append("\\" + c)
        elif c.isascii() and c.isalpha():
            self.out.append(c)  # unknown letter escape: the letter itself
        else:
            self.out.append(re.escape(c))

    def backref_or_octal(self, digits: str) -> str:
        """Perl: `\\N` is a back reference when N < 10 or that many groups exist, else octal."""
        if len(digits) == 1 or int(digits[:7]) <= self.groups:
            return f"(?:\\{int(digits[:7])})"
        octal = ""
        for ch in digits[:3]:
            if ch not in "01234567":
                break
            octal += ch
        if not octal:
            raise self.error(f"reference to group {digits} that does not exist")
        return _hex_escape(int(octal, 8) & 0xFF) + re.escape(digits[len(octal) :])

    def reference_name(self) -> str:
        close = {"<": ">", "{": "}", "'": "'"}.get(self.peek())
        if close is None:
            raise self.error("\\k needs <name>, {name} or 'name'")
        end = self.src.find(close, self.i + 1)
        if end < 0:
            raise self.error("unterminated \\k reference")
        name = self.src[self.i + 1 : end]
        self.i = end + 1
        if not name.isidentifier():
            raise self.error(f"invalid group name {name!r}")
        return name

    def g_reference(self) -> str:
        if self.peek() == "{":
            body = self.read_braced()
        else:
            m = re.compile(r"-?\d+").match(self.src, self.i)
            if not m:
                raise self.error("\\g needs a group number or {name}")
            body = m.group()
            self.i = m.end()
        if re.fullmatch(r"-?\d+", body):
            n = int(body[:6])
            if n < 0:
                n = self.groups + 1 + n
            if n <= 0:
                raise self.error("reference to a group that does not exist")
            return f"(?:\\{n})"
        if body.isidentifier():
            return f"(?P={body})"
        raise self.error(f"invalid \\g reference {body!r}")

    # -- character classes ---------------------------------------------------------

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

    def class_escape(self) -> str:
        c = self.peek(1)
        if not c:
            raise self.error("trailing backslash")
        common = self.common_escape(c, in_class=True)
        if common is not None:
            return common
        self.i += 2
        if c == "h":
            return _HSPACE
        if c == "v":
            return _VSPACE
        if c in "HVRNz":
            raise self.error(f"\\{c} inside a character class is not supported")
        if c in _SAME_IN_CLASS:
            return "\\" + c
        if c.isascii() and c.isalpha():
            return c
        return re.escape(c)

    # -- groups --------------------------------------------------------------------

    def open_group(self) -> None:
        rest = self.src[self.i :]
        if rest.startswith("(*"):
            raise self.error("backtracking control verbs (*...) are not supported")
        if not rest.startswith("(?"):
            self.groups += 1
            self.push_group("(", 1)
            return
        for prefix, what in (
            ("(?{", "code blocks (?{...})"),
            ("(??{", "code blocks (??{...})"),
            ("(?R)", "recursion (?R)"),
            ("(?&", "recursion (?&name)"),
            ("(?P>", "recursion (?P>name)"),
            ("(?|", "branch reset (?|...)"),
        ):
            if rest.startswith(prefix):
                raise self.error(f"{what} is not supported")
        if re.match(r"\(\?[+-]?\d+\)", rest):
            raise self.error("recursion (?N) is not supported")
        if rest.startswith("(?#"):
            end = self.src.find(")", self.i)
            if end < 0:
                raise self.error("unterminated comment (?#")
            self.i = end + 1
            return
        for perl, python in (("(?<=", "(?<="), ("(?<!", "(?<!"), ("(?:", "(?:"),
                             ("(?=", "(?="), ("(?!", "(?!"), ("(?>", "(?>"),
                             ("(?P=", None), ("(?P<", None)):
            if rest.startswith(perl):
                if python is None:
                    break
                self.push_group(python, len(perl))
                return
        if rest.startswith("(?("):
            cond = _CONDITION.match(rest)
            if not cond:
                raise self.error("only (?(N)...) and (?(<name>)...) conditionals are supported")
            ref = next(g for g in cond.groups() if g is not None)
            self.push_group(f"(?({ref})", cond.end())
            return
        named = re.match(r"\(\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')", rest)
        if named:
            self.groups += 1
            self.push_group(f"(?P<{named.group(1) or named.group(2)}>", named.end())
            return
        if rest.startswith("(?P="):
            end = self.src.find(")", self.i)
            if end < 0:
                raise self.error("unterminated (?P=name)")
            self.out.append(self.src[self.i : end + 1])
            self.i = end + 1
            return
        flags = re.match(r"\(\?(\^?)([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", rest)
        if not flags:
            raise self.error("unknown (? construct")
        caret, on, off, closer = flags.groups()
        off = off or ""
        for f in on + off:
            if f not in _FLAG_CHARS:
                raise self.error(f"the regex flag {f!r} is not supported")
        if caret:
            off = "".join(f for f in "imsx" if f not in on)
        on = "".join(dict.fromkeys(on))
        off = "".join(dict.fromkeys(f for f in off if f not in on))
        spec = on + (f"-{off}" if off else "")
        if not spec:
            if closer == ":":
                self.push_group("(?:", flags.end())
            else:
                self.i += flags.end()
            return
        if closer == ":":
            self.push_group(f"(?{spec}:", flags.end())
        else:
            # `(?i)`: applies to the rest of the enclosing group; re-opened after each `|`.
            self.out.append(f"(?{spec}:")
            self.scopes[-1].append(spec)
            self.i += flags.end()

    def push_group(self, text: str, length: int) -> None:
        self.out.append(text)
        self.scopes.append([])
        self.i += length


def translate(text: str) -> str:
    """The Python pattern text (before UTF-8 encoding) equivalent to Perl pattern `text`."""
    if len(text) > _MAX_LEN:
        raise PerlRegexError(f"pattern longer than {_MAX_LEN} characters")
    return _Translator(text).run()


def compile_perl_regex(text: str) -> re.Pattern[bytes]:
    """Compile Perl pattern `text` for matching raw bytes, as the original does.

    Error handling: raises `PerlRegexError` (a `ValueError`) with a one-line reason for
    invalid patterns and for Perl features listed in this module's docstring.
    """
    python = translate(text)
    try:
        pattern = python.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise PerlRegexError("pattern is not valid text") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern)
    except re.error as exc:
        raise PerlRegexError(exc.msg if hasattr(exc, "msg") else str(exc)) from exc
    except (OverflowError, RecursionError, ValueError) as exc:
        raise PerlRegexError(str(exc) or type(exc).__name__) from exc
