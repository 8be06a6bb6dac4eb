"""Perl regex translation: Perl's matching semantics on raw bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldirectord.cli import main
from ldirectord.config.perlre import PerlRegexError, compile_perl_regex

MATCHES = [
    # (pattern, subject, matches?)
    (r"abc\z", b"abc\n", False),
    (r"abc\z", b"abc", True),
    (r"abc\Z", b"abc\n", True),
    (r"abc\Z", b"abc\nx", False),
    (r"OK$", b"OK\n", True),
    (r"OK$", b"OK\nmore", False),
    (r"\AOK", b"xOK", False),
    (r"a(?i)b|c", b"C", True),
    (r"a(?i)b|c", b"aB", True),
    (r"a(?i)b|c", b"AB", False),
    (r"(?i)server is UP", b"Server Is Up", True),
    (r"x(?i:Y)z", b"xyz", True),
    (r"x(?i:Y)z", b"xyZ", False),
    (r"(?^i:A)b", b"aB", False),
    (r"\h+", b"a \t b", True),
    (r"^\h$", b"\n", False),
    (r"a\vb", b"a\rb", True),
    (r"a\vb", b"a\x0bb", True),
    (r"a\Vb", b"a\nb", False),
    (r"a\Rb", b"a\r\nb", True),
    (r"a\Nb", b"a\nb", False),
    # The regex engine sees \Q and \E as the letters Q and E (Perl quotes only in
    # pattern text written in the program, not in a pattern read from the config).
    (r"\Qa.\E", b"QaxE", True),
    (r"\Qa.\E", b"a.", False),
    (r"\B", b"", True),
    (r"(\R)\R", b"\r\n", False),  # \R is atomic
    (r"\b*x", b"x", True),  # a quantified assertion
    (r"(|{1,2})", b"{1,2}", True),  # a quantifier after nothing is literal text
    (r"a\N{2}", b"abc", True),
    (r"^[[:digit:]]+$", b"123", True),
    (r"^[[:alpha:]_]+$", b"ab_c", True),
    (r"\d", "\u0663".encode(), False),  # Arabic-Indic digit: not \d on bytes
    (r"\w+", "é".encode(), False),
    (r"(?i)é", "É".encode(), False),  # no Unicode case folding on bytes, as in Perl
    (r"caf\x{e9}", b"caf\xe9", True),
    (r"\x{263A}", "\u263a".encode(), True),
    (r"(?<word>ab)\k<word>", b"abab", True),
    (r"(?'w'ab)\k{w}", b"abab", True),
    (r"(a)(b)\g{-1}\g1", b"abba", True),
    (r"a++b", b"aaab", True),
    (r"a++a", b"aaaa", False),  # possessive: no backtracking
    (r"(?>a+)a", b"aaaa", False),
    (r"\e\cA", b"\x1b\x01", True),
    (r"\y\/", b"y/", True),  # unknown letter escape is the letter
    (r"a(?#comment)b", b"ab", True),
    (r"[a\-z]", b"-", True),
    (r"[]a]", b"]", True),
    (r"HTTP/1\.[01] 200", b"HTTP/1.1 200 OK", True),
    (r"\d{3}", b"12", False),
    (r"(?s)a.b", b"a\nb", True),
    (r"a.b", b"a\nb", False),
    (r"(?m)^b", b"a\nb", True),
    # Braces that are no quantifier are literal text in Perl, never a regex fuzzy match.
    (r"a{e<=1}", b"a{e<=1}", True),
    (r"a{e<=1}", b"b{e<=1}", False),
    (r"x{1}{e}", b"x{e}", True),
    (r"(?:ab){2}c", b"ababc", True),
    (r"a{0,65534}b", b"b", True),
]


@pytest.mark.parametrize(("pattern", "subject", "expected"), MATCHES)
def test_matches_like_perl(pattern: str, subject: bytes, expected: bool) -> None:
    assert bool(compile_perl_regex(pattern).search(subject)) is expected


@pytest.mark.parametrize("pattern", [
    "(?{ 1 })", "(??{ 'a' })", "(?R)", "(?1)", "(?&name)", "(?P>name)", r"\G", r"a\Kb",
    "(?|a|b)", "(*FAIL)", r"\p{L}", r"\X", r"\N{SNOWMAN}", "[[:^alpha:]]", "[[:nope:]]",
    "(?n)a", "(?a)x", "(", ")", "[a", "*", "a{2,1}", r"(?<=a+)b", "\\", r"\k<nope>",
    # Perl takes a short variable-length lookbehind; it is refused, as before.
    r"(?<=ab?)c",
    # Perl's limit on a repeat count, and repeats the regex package would write out whole.
    "a{65535}", "a{1,4294967296}", "a{" + "9" * 5000 + "}", "(?:a{1000}){1000}",
    "(?:(?:a{100}){100}){100}",
])
def test_unsupported_or_invalid_is_refused(pattern: str) -> None:
    with pytest.raises(PerlRegexError):
        compile_perl_regex(pattern)


def test_error_is_a_value_error_with_a_reason() -> None:
    with pytest.raises(ValueError, match="recursion"):
        compile_perl_regex(r"\((?:[^()]|(?R))*\)")


def test_empty_pattern_matches_everything() -> None:
    assert compile_perl_regex("").search(b"anything")


def test_a_match_can_be_bounded_in_time() -> None:
    # Exponential backtracking on a 41-byte subject; the search gives up at its timeout.
    pattern = compile_perl_regex("^(a|aa)+$")
    with pytest.raises(TimeoutError):
        pattern.search(b"a" * 40 + b"!", timeout=0.05)
    assert pattern.search(b"aaaa", timeout=0.05)


def test_refusals_say_why() -> None:
    with pytest.raises(PerlRegexError, match="repeat count bigger than 65534"):
        compile_perl_regex("a{65535}")
    with pytest.raises(PerlRegexError, match="longer than 100000 characters"):
        compile_perl_regex("(?:a{1000}){1000}")
    with pytest.raises(PerlRegexError, match="look-behind requires fixed-width pattern"):
        compile_perl_regex(r"(?<=ab?)c")


def test_what_only_one_of_re_and_regex_would_take_is_a_load_error_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # regex compiles both (the first as a million-character string, the second with
    # lookbehind semantics that are not Perl's); `-t` reports them where they are written.
    path = tmp_path / "ldirectord.cf"
    path.write_text("virtual=10.0.0.1:80\n"
                    "\treal=10.0.0.2:80 gate\n"
                    '\treal=10.0.0.3:80 gate 1 "/health", "(?:a{1000}){1000}"\n'
                    '\treceive="(?<=ab?)c"\n'
                    "\tservice=http\n")
    assert main(["-t", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[:2] == [
        f'{path}:3: real=10.0.0.3:80 gate 1 "/health", "(?:a{{1000}}){{1000}}": not a valid '
        "regular expression: counted repeats make the pattern longer than 100000 characters "
        "at offset 11",
        f'{path}:4: receive="(?<=ab?)c": not a valid regular expression: look-behind requires '
        "fixed-width pattern",
    ]
