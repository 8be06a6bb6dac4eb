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
from tests.unit.config.helpers import FakeSystem
from tests.unit.config.mutations import mutated_corpus

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
