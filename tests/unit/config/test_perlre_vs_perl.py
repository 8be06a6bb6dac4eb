"""Differential test: the translated patterns match exactly where Perl's do.

Random patterns built from the constructs the translation handles are compiled by Perl
(`qr/$pattern/` on a byte string, as the original interpolates `receive`) and by us, and
matched against a set of subjects. Perl is part of every Debian system (perl-base); the
test is skipped where it is missing.
"""

from __future__ import annotations

import binascii
import random
import re
import shutil
import subprocess
import warnings

import pytest
import regex

from ldirectord.config.perlre import PerlRegexError, compile_perl_regex, translate

PERL = shutil.which("perl")
SCRIPT = r"""
binmode STDIN; binmode STDOUT;
while (my $l = <STDIN>) {
  chomp $l; my ($p, $s) = split / /, $l, 2;
  $p = pack("H*", $p); $s = pack("H*", $s);
  my $re = eval { local $SIG{__WARN__} = sub {}; qr/$p/ };
  if (!defined $re) { print "E\n"; next; }
  print(($s =~ $re) ? "1\n" : "0\n");
}
"""
ATOMS = ["a", "b", "A", "B", "1", ".", r"\.", "$", "^", r"\d", r"\w", r"\s", r"\S", r"\W",
         r"\z", r"\Z", r"\A", r"\b", r"\B", r"\h", r"\H", r"\v", r"\V", r"\R", r"\N", r"\n",
         r"\t", r"\e", r"\x41", r"\x{42}", r"\101", r"\cA", r"\y", r"\Q", r"\E", "é", " ",
         "[ab]", "[^a]", "[a-c]", r"[\d.]", r"[\h]", r"[\v]", "[[:digit:]]", "[[:alpha:]_]",
         "[[:space:]]", "[]a]", "[a-]", r"[\x41-\x43]", "{", "}", "{1,2}", r"\1", r"\g{-1}",
         r"\k<n>"]
SUBJECTS = [b"", b"a", b"ab\n", b"AB", b"a1 b\n", b"abc\n\n", b"x.y", b"A\r\nb", b"\tb\xa0",
            "é".encode(), b"aaa bbb 123\n", b"\x1b\x01QaE", b"{1,2}", b"abab", b"C_9\x0b"]


# Perl features the module docstring lists as unsupported, as Python's `re` words them.
KNOWN_UNSUPPORTED = (
    "cannot refer to an open group",  # back reference inside its own group
    "invalid group reference",  # back reference before the group
    "unknown group name",  # \\k<n> before (?<n>...)
    "redefinition of group name",  # the same name twice
    "look-behind requires fixed-width pattern",  # variable-length lookbehind
)


def _pattern(rng: random.Random, depth: int = 0) -> str:
    out = ""
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.12 and depth < 3:
            out += "(" + _pattern(rng, depth + 1) + ")"
        elif r < 0.17 and depth < 3:
            out += "(?:" + _pattern(rng, depth + 1) + "|" + _pattern(rng, depth + 1) + ")"
        elif r < 0.21 and depth < 3:
            out += rng.choice(["(?i)", "(?s)", "(?m)", "(?-i)", "(?^)"]) + \
                _pattern(rng, depth + 1)
        elif r < 0.24 and depth < 3:
            out += rng.choice(["(?>", "(?=", "(?!", "(?<=", "(?<!", "(?i:", "(?<n>",
                               "(?'n'"]) + _pattern(rng, depth + 1) + ")"
        elif r < 0.27:
            out += "|"
        else:
            out += rng.choice(ATOMS)
        q = rng.random()
        if q < 0.2:
            out += rng.choice(["*", "+", "?", "{1,2}", "++", "*?", "{2}", "?+"])
    return out


def _perl_results(cases: list[tuple[str, bytes]]) -> list[str]:
    assert PERL is not None
    lines = "".join(f"{binascii.hexlify(p.encode()).decode()} {binascii.hexlify(s).decode()}\n"
                    for p, s in cases)
    proc = subprocess.run([PERL, "-e", SCRIPT], input=lines.encode(), capture_output=True,
                          timeout=120, check=True)
    return proc.stdout.decode().splitlines()


@pytest.mark.skipif(PERL is None, reason="perl is not installed")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_patterns_match_like_perl(seed: int) -> None:
    rng = random.Random(seed)
    cases = [(_pattern(rng), rng.choice(SUBJECTS)) for _ in range(1500)]
    expected = _perl_results(cases)
    assert len(expected) == len(cases)
    mismatches = []
    compiled_both = 0
    for (pattern, subject), perl in zip(cases, expected, strict=True):
        try:
            ours = "1" if compile_perl_regex(pattern).search(subject) else "0"
        except PerlRegexError as exc:
            # Refusing a documented unsupported construct that Perl accepts is allowed.
            if perl != "E" and not any(r in str(exc) for r in KNOWN_UNSUPPORTED):
                mismatches.append((pattern, subject, perl, f"E: {exc}"))
            continue
        if perl == "E":
            continue  # Perl refuses it (e.g. an unescaped "{" after a letter); we are lenient
        compiled_both += 1
        if ours != perl:
            mismatches.append((pattern, subject, perl, ours))
    assert mismatches == []
    assert compiled_both > 900


SOUP = list("()[]{}?*+|^$\\.-:<>=!#&~'aAbBzZhvQE0129xcgkpRe, ")


@pytest.mark.parametrize("seed", [1, 2])
def test_regex_reads_the_translation_as_re_does(seed: int) -> None:
    """The translation is written in `re` syntax and run by the regex package: every
    pattern `re` takes, regex takes too, and both find the same matches."""
    rng = random.Random(seed)
    compared = 0
    for n in range(4000):
        text = _pattern(rng) if n % 2 else "".join(
            rng.choice(SOUP) for _ in range(rng.randint(1, 14)))
        try:
            python = translate(text).encode("utf-8", "surrogateescape")
        except (PerlRegexError, UnicodeEncodeError):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ours = re.compile(python)
            except re.error:
                continue
            theirs = regex.compile(python, regex.VERSION0)
        compared += 1
        for subject in [*SUBJECTS, b"a{e<=1}", b"{e}"]:
            assert bool(ours.search(subject)) == bool(theirs.search(subject)), \
                (text, python, subject)
    assert compared > 2000
