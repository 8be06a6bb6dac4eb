"""Control characters from a config never reach a terminal or a log raw: error messages and
every log record show them escaped (`\\x1b`, `\\u2028`); ordinary text is left alone."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldirectord import logsetup
from ldirectord.config import parse
from ldirectord.errors import ConfigError, ConfigMessage
from ldirectord.logsetup import LogDest, LogMode, escape_controls, log
from tests.unit.config.helpers import FakeSystem


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield None
    logsetup.reset()


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b[31mb", "a\\x1b[31mb"),
    ("a\rb", "a\\x0db"),
    ("a\x00b", "a\\x00b"),
    ("a\x7fb", "a\\x7fb"),
    ("a\x85b\x9bc", "a\\x85b\\x9bc"),  # C1 controls (NEL, CSI)
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("a\u202eb\u200bc\ufeffd", "a\\u202eb\\u200bc\\ufeffd"),  # bidi override, ZWSP, BOM
    ("a\U000e0001b", "a\\U000e0001b"),  # a tag character (format)
    ("a\x0bb\x0cc", "a\\x0bb\\x0cc"),
])
def test_controls_are_escaped(raw: str, shown: str) -> None:
    assert escape_controls(raw) == shown


@pytest.mark.parametrize("text", [
    "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)",
    "café naïve 東京 ✓ \\x1b already-escaped-looking text",
    "tab\tand\nnewline stay",
    "",
])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert escape_controls(text) == text


def test_config_messages_show_controls_escaped() -> None:
    text = "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tservice=ht\x1b[2Jtp\u2028x\rz\n"
    with pytest.raises(ConfigError) as info:
        parse(text.encode(), "a.cf", hostname="h", system=FakeSystem())
    [message] = info.value.errors
    assert str(message).startswith("a.cf:3: service=ht\\x1b[2Jtp\\u2028x\\x0dz: service must be")
    assert "\x1b" not in str(info.value) and "\u2028" not in str(info.value)


def test_a_config_message_escapes_its_path_and_text() -> None:
    m = ConfigMessage("we\x1bird.cf", 2, "bad \x00 value")
    assert str(m) == "we\\x1bird.cf:2: bad \\x00 value"
    assert ConfigMessage("a.cf", 1, "plain") == ConfigMessage("a.cf", 1, "plain")


def test_log_file_records_are_escaped_and_ordinary_ones_byte_identical(tmp_path: Path
                                                                       ) -> None:
    path = tmp_path / "ld.log"
    logsetup.configure(LogDest(LogMode.FILE, str(path), "web"))
    log.info("Added real server: %s (%s) (Weight set to %d)", "10.0.0.2:80", "10.0.0.1:80", 1)
    log.info("check detail: %s", "HTTP 200 \x1b]0;owned\x07 \u2028fake line")
    log.info("already formatted \x9b\r")
    lines = path.read_text(encoding="utf-8").splitlines()
    messages = [line.split("] ", 1)[1] for line in lines]
    assert messages == [
        "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)",
        "check detail: HTTP 200 \\x1b]0;owned\\x07 \\u2028fake line",
        "already formatted \\x9b\\x0d",
    ]


def test_debug_stderr_records_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    logsetup.configure(LogDest(LogMode.DEBUG))
    log.info("real %s", "a\x1bb")
    log.debug("debug %s", "c\u2029d")
    assert capsys.readouterr().err == "real a\\x1bb\nDEBUG2: debug c\\u2029d\n"


def test_supervised_stdout_records_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    logsetup.configure(LogDest(LogMode.SUPERVISED))
    logging.getLogger("ldirectord").info("x\x00y")
    assert capsys.readouterr().out.endswith("] x\\x00y\n")
