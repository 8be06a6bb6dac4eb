"""Perl regular expressions (the `receive=` strings) translated to Python `re` syntax on bytes.

The original interpolates `receive` into a Perl match without `use utf8`, so the pattern
and the subject are both byte strings. We do the same: the translated pattern is encoded
as UTF-8 and compiled as a bytes pattern, and checkers match it against raw bytes. The
translation is checked by `re` and compiled by the regex package in its `re`-compatible
VERSION0 mode, because regex can bound a search by a timeout (checkers/match.py).

What is translated so that the match is Perl's, and what is refused at load time with
`PerlRegexError`, is listed in docs/configuration.md ("`receive` and regular
expressions"); the comments below say how.

A differential test (tests/unit/config/test_perlre_vs_perl.py) runs thousands of random
patterns through Perl and through this translation and requires the same matches, and
through `re` and regex and requires that regex reads the translation as `re` does.
"""

from __future__ import annotations

import re
import warnings
from typing import Final, Protocol

import regex

from ldirectord.config.perlre_scan import (
    HSPACE,
    QUANTIFIER,
    VSPACE,
    PerlRegexError,
    Scanner,
    hex_escape,
)

__all__ = ["PerlRegexError", "ReceivePattern", "compile_perl_regex", "translate"]


class ReceivePattern(Protocol):
    """A compiled `receive` pattern: the `regex` package's, whose search can be bounded."""

    @property
    def pattern(self) -> bytes: ...

    def search(self, string: bytes, pos: int | None = None, endpos: int | None = None,
               concurrent: bool | None = None, timeout: float | None = None) -> object | None:
        ...

# Escapes that mean the same in Perl and Python (outside a class).
_SAME: Final = frozenset("dDwWsSbBAntrfa")
_FLAG_CHARS: Final = frozenset("imsx")
_MAX_LEN: Final = 20_000
#: Perl's largest repeat count (`a{65535}` is an error there).
_MAX_COUNT: Final = 65_534
#: How long the pattern may get with its counted repeats written out: the regex package
#: compiles `(?:a{1000}){1000}` as one million-character string.
_MAX_EXPANSION: Final = 100_000
_CONDITION: Final = re.compile(
    r"\(\?\((?:(\d+)|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|([A-Za-z_]\w*))\)")


class _Translator(Scanner):
    """One pass over the Perl pattern, emitting Python pattern text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.groups = 0  # capturing groups opened so far
        self.atom = False  # the last thing emitted can take a quantifier
        # One entry per open group (and one for the whole pattern): how many scoped
        # flag groups `(?i:` were opened inside it and must be closed at its end.
        self.scopes: list[list[str]] = [[]]
        # Parallel to `scopes`: the size of each open group with its counted repeats
        # written out (an upper bound); `last` is that of the last atom, which a
        # quantifier repeats.
        self.sizes: list[int] = [0]
        self.last = 0

    def run(self) -> str:
        while self.i < len(self.src):
            c = self.src[self.i]
            atom = True  # whether what is emitted now can take a quantifier
            if c == "\\":
                self.escape()
                self.count(1)
            elif c == "[":
                self.char_class()
                self.count(1)
            elif c == "(":
                atom = self.open_group()
            elif c == ")":
                if len(self.scopes) == 1:
                    raise self.error("unmatched )")
                self.close_flag_scopes()
                self.scopes.pop()
                self.count(self.sizes.pop())
                self.out.append(")")
                self.i += 1
            elif c == "|":
                flags = self.close_flag_scopes()
                self.out.append("|")
                for f in flags:
                    self.out.append(f"(?{f}:")
                self.scopes[-1].extend(flags)
                self.i += 1
                atom = False
            elif c == "{" and not (self.atom and QUANTIFIER.match(self.src, self.i)):
                # Literal text in Perl (a quantifier after nothing, or no quantifier at all);
                # escaped so that regex does not read `{e<=1}` as a fuzzy-match constraint.
                self.out.append("\\{")
                self.i += 1
                self.count(1)
            elif c == "{":
                self.counted_quantifier()
            elif c in "^$":
                self.i += 1
                self.assertion(c)
                self.count(1)
            else:
                self.out.append(c)
                self.i += 1
                if c not in "*+?":  # a quantifier, or its lazy or possessive mark
                    self.count(1)
            self.atom = atom
        if len(self.scopes) > 1:
            raise self.error("missing )")
        self.close_flag_scopes()
        return "".join(self.out)

    def count(self, size: int) -> None:
        """An atom of `size` (written out) was emitted into the current group."""
        self.sizes[-1] += size
        self.last = size

    def counted_quantifier(self) -> None:
        """`{m}`, `{m,}`, `{m,n}` or `{,n}` after an atom, within Perl's and our limits."""
        m = QUANTIFIER.match(self.src, self.i)
        assert m is not None
        text = m.group()
        low, _, high = text[1:-1].partition(",")
        for number in (low, high):
            digits = number.lstrip("0")
            if len(digits) > len(str(_MAX_COUNT)) or int(digits or "0") > _MAX_COUNT:
                raise self.error(f"repeat count bigger than {_MAX_COUNT}")
        times = max(int(low or "0"), 1)
        self.sizes[-1] += self.last * (times - 1)
        self.last *= times
        if sum(self.sizes) > _MAX_EXPANSION:
            raise self.error(f"counted repeats make the pattern longer than {_MAX_EXPANSION} "
                             "characters")
        self.out.append(text)
        self.i = m.end()

    def quantifier_follows(self) -> bool:
        return self.peek() in ("*", "+", "?") or bool(QUANTIFIER.match(self.src, self.i))

    def assertion(self, text: str) -> None:
        """A zero-width assertion; Perl lets one be quantified (`\\b*`), Python only a
        group, so it is wrapped when a quantifier follows."""
        self.out.append(f"(?:{text})" if self.quantifier_follows() else text)

    def close_flag_scopes(self) -> list[str]:
        flags = self.scopes[-1]
        self.out.append(")" * len(flags))
        self.scopes[-1] = []
        return flags

    # -- escapes -------------------------------------------------------------------

    def escape(self) -> None:
        c, common = self.escape_letter(in_class=False)
        if common is not None:
            self.out.append(common)
            return
        if c == "z":
            self.assertion("\\Z")
        elif c == "Z":
            self.assertion("(?=\\n?\\Z)")
        elif c == "A" or (c == "b" and self.peek() != "{"):
            self.assertion("\\" + c)
        elif c == "B" and self.peek() != "{":
            # Python's \B never matches in an empty string; Perl's does.
            self.assertion("(?:(?<=\\w)(?=\\w)|(?<!\\w)(?!\\w))")
        elif c == "h":
            self.out.append(f"[{HSPACE}]")
        elif c == "H":
            self.out.append(f"[^{HSPACE}]")
        elif c == "v":
            self.out.append(f"[{VSPACE}]")
        elif c == "V":
            self.out.append(f"[^{VSPACE}]")
        elif c == "R":
            self.out.append(f"(?>\\r\\n|[{VSPACE}])")  # atomic in Perl
        elif c == "N":
            self.out.append("[^\\n]")
        elif c in "bB" and self.peek() == "{":
            raise self.error(f"\\{c}{{...}} (Unicode boundaries) is not supported")
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
        return hex_escape(int(octal, 8) & 0xFF) + re.escape(digits[len(octal) :])

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
    def open_group(self) -> bool:
        """Translate a `(` construct; True when it is an atom (a back reference)."""
        rest = self.src[self.i :]
        if rest.startswith("(*"):
            raise self.error("backtracking control verbs (*...) are not supported")
        if not rest.startswith("(?"):
            self.groups += 1
            self.push_group("(", 1)
            return False
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
            return self.atom  # a comment changes nothing
        for perl, python in (("(?<=", "(?<="), ("(?<!", "(?<!"), ("(?:", "(?:"),
                             ("(?=", "(?="), ("(?!", "(?!"), ("(?>", "(?>"),
                             ("(?P=", None), ("(?P<", None)):
            if rest.startswith(perl):
                if python is None:
                    break
                self.push_group(python, len(perl))
                return False
        if rest.startswith("(?("):
            cond = _CONDITION.match(rest)
            if not cond:
                raise self.error("only (?(N)...) and (?(<name>)...) conditionals are supported")
            ref = next(g for g in cond.groups() if g is not None)
            self.push_group(f"(?({ref})", cond.end())
            return False
        named = re.match(r"\(\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')", rest)
        if named:
            self.groups += 1
            self.push_group(f"(?P<{named.group(1) or named.group(2)}>", named.end())
            return False
        if rest.startswith("(?P="):
            end = self.src.find(")", self.i)
            if end < 0:
                raise self.error("unterminated (?P=name)")
            self.out.append(self.src[self.i : end + 1])
            self.i = end + 1
            self.count(1)
            return True
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
                return False
            self.i += flags.end()
            return self.atom
        if closer == ":":
            self.push_group(f"(?{spec}:", flags.end())
        else:
            # `(?i)`: applies to the rest of the enclosing group; re-opened after each `|`.
            self.out.append(f"(?{spec}:")
            self.scopes[-1].append(spec)
            self.i += flags.end()
        return False

    def push_group(self, text: str, length: int) -> None:
        self.out.append(text)
        self.scopes.append([])
        self.sizes.append(0)
        self.i += length


def translate(text: str) -> str:
    """The Python pattern text (before UTF-8 encoding) equivalent to Perl pattern `text`."""
    if len(text) > _MAX_LEN:
        raise PerlRegexError(f"pattern longer than {_MAX_LEN} characters")
    return _Translator(text).run()


def compile_perl_regex(text: str) -> ReceivePattern:
    """Compile Perl pattern `text` for matching raw bytes, as the original does.

    The translation is Python `re` syntax. It is compiled by `re` first, which decides what
    is refused (e.g. a variable-length lookbehind, which regex would take with semantics
    that differ from Perl's), then by the regex package in its `re`-compatible VERSION0
    mode, whose search can be given a timeout and lets other threads run meanwhile.

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
            re.compile(pattern)
            compiled: ReceivePattern = regex.compile(pattern, regex.VERSION0)
            return compiled
    except (re.error, regex.error) as exc:
        raise PerlRegexError(exc.msg if hasattr(exc, "msg") else str(exc)) from exc
    except (OverflowError, RecursionError, ValueError, IndexError) as exc:
        raise PerlRegexError(str(exc) or type(exc).__name__) from exc
