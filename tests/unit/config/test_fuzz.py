"""Fuzzing the parser: whatever the text, `parse` returns a Config or raises ConfigError.

No real resolver is involved (FakeSystem): host names other than literals and localhost
fail at once, and no file is created. 5,600 examples in all.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldirectord.config import parse
from ldirectord.config.model import Config
from ldirectord.config.perlre import PerlRegexError, compile_perl_regex
from ldirectord.errors import ConfigError
from tests.unit.config.helpers import CONFIGS, SAMPLES, FakeSystem

CORPUS = [p.read_bytes() for p in sorted((CONFIGS / "valid").glob("*.cf")) + list(SAMPLES)]
CORPUS_LINES = sorted({line for text in CORPUS for line in text.splitlines() if line.strip()})
DIRECTIVES = sorted({
    line.split(b"=", 1)[0].strip() for line in CORPUS_LINES if b"=" in line
} | {b"virtual", b"virtual6", b"real", b"real6", b"timeout", b"connecttimeout",
     b"supervised", b"schedflags", b"load"})
VALUES = st.one_of(
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"yes", b"no", b"0", b"1", b"65536", b'""', b'"x"', b"10.0.0.1:80",
                     b"[::1]:80", b"localhost", b"10.0.0.1->10.0.0.9:80 gate",
                     b"10.0.0.[1-3] masq 2", b'10.0.0.2 gate "a", "(b"', b"l:1 u:2",
                     b"none,running", b"http", b"fwm", b"-1", b"9" * 30]),
)
INDENTS = st.sampled_from([b"", b" ", b"  ", b"   ", b"    ", b"\t", b" \t", b"        "])
FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large])


def check_parse(data: bytes) -> None:
    try:
        config = parse(data, "fuzz.cf", hostname="h", system=FakeSystem())
    except ConfigError as exc:
        assert exc.errors
        lines = [m.line for m in exc.errors]
        assert lines == sorted(lines)
        assert all(0 <= n <= data.count(b"\n") + 1 for n in lines)
        return
    assert isinstance(config, Config)
    assert config == parse(data, "fuzz.cf", hostname="h", system=FakeSystem())


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=1500)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_random_text(text: str) -> None:
    check_parse(text.encode("utf-8"))


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=800)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check_parse(data)


@st.composite
def mutated_corpus(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(CORPUS)).splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "directive", "indent",
                                   "bytes", "swap"]))
        pos = draw(st.integers(0, len(lines)))
        if op == "insert":
            lines.insert(pos, draw(st.sampled_from(CORPUS_LINES)))
        elif op == "delete" and lines:
            del lines[min(pos, len(lines) - 1)]
        elif op == "duplicate" and lines:
            lines.insert(pos, lines[min(pos, len(lines) - 1)])
        elif op == "directive":
            line = draw(INDENTS) + draw(st.sampled_from(DIRECTIVES)) + b"=" + draw(VALUES)
            lines.insert(pos, line)
        elif op == "indent" and lines:
            i = min(pos, len(lines) - 1)
            lines[i] = draw(INDENTS) + lines[i].lstrip()
        elif op == "bytes" and lines:
            i = min(pos, len(lines) - 1)
            cut = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut] + draw(st.binary(max_size=8)) + lines[i][cut:]
        elif op == "swap" and len(lines) > 1:
            i = min(pos, len(lines) - 2)
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + ending


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=2300)
@given(mutated_corpus())
def test_mutated_corpus(data: bytes) -> None:
    check_parse(data)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=1000)
@given(st.text(alphabet=st.sampled_from(list("()[]{}?*+|^$\\.-:<>=!#&~'aAbBzZhvQE0129xcgkpR ")),
               max_size=40))
def test_perl_regex_translation_never_crashes(text: str) -> None:
    try:
        pattern = compile_perl_regex(text)
    except PerlRegexError:
        return
    pattern.search(b"some text\n")
