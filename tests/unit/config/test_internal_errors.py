"""A bug of ours while building a config is a ConfigError with file:line, never a traceback
(SPEC Part A 14): `-t`, `start` and `--probe` print it and exit 2; other lines are still read."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ldirectord.cli import main
from ldirectord.config import directives, load, parse
from ldirectord.config.lexer import Line
from ldirectord.errors import ConfigError
from tests.unit.config.helpers import FakeSystem

# `ldirectord.config.build` the attribute is the function; the module is wanted here.
build_module = importlib.import_module("ldirectord.config.build")
REPO = Path(__file__).resolve().parents[3]
BROKEN_RANGE = "virtual=10.0.0.1:80\n\treal=010.0.0.[1-2]:80 gate\n\tchecktype=bogus\n"


class ExplodingSystem(FakeSystem):
    """Resolves like FakeSystem, but a bug of ours fires for one name."""

    def host(self, name: str, ipv6: bool) -> str | None:
        if name == "10.0.0.66":
            raise RuntimeError("resolver bug")
        return super().host(name, ipv6)


def messages(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(m) for m in exc.value.errors]


def test_an_exception_while_resolving_a_real_is_a_line_numbered_error() -> None:
    text = ("virtual=10.0.0.1:80\n\treal=10.0.0.66:80 gate\n\treal=10.0.0.3:80 gate\n"
            "\tchecktype=bogus\n")
    with pytest.raises(ConfigError) as info:
        parse(text, "ldirectord.cf", hostname="h", system=ExplodingSystem())
    got = messages(info)
    assert got[0] == ("ldirectord.cf:2: real=10.0.0.66:80 gate: internal error while "
                      "reading this line: RuntimeError: resolver bug (please report this)")
    # the other lines were still read and their errors reported
    assert got[1].startswith("ldirectord.cf:4: checktype=bogus: checktype must be")
    assert len(got) == 2


def test_an_exception_in_a_section_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(d: object, line: Line, ctx: object) -> None:
        raise KeyError("x")

    monkeypatch.setitem(directives.VIRTUAL_HANDLERS, "checkport", boom)
    with pytest.raises(ConfigError) as info:
        parse("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tcheckport=81\n"
              "timeout=5\n", "a.cf", hostname="h", system=FakeSystem())
    assert messages(info) == [
        "a.cf:3: checkport=81: internal error while reading this line: KeyError: 'x' "
        "(please report this)",
        "a.cf:4: timeout=5: timeout directive deprecated in favour of checktimeout and "
        "negotiatetimeout",
    ]


def test_an_exception_in_a_global_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(g: object, line: Line, ctx: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(directives.GLOBAL_HANDLERS, "quiescent", boom)
    with pytest.raises(ConfigError) as info:
        parse("quiescent=yes\n", "a.cf", hostname="h", system=FakeSystem())
    assert messages(info) == [
        "a.cf:1: quiescent=yes: internal error while reading this line: "
        "ZeroDivisionError: division by zero (please report this)"]


def test_an_exception_while_finishing_a_virtual(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kw: object) -> None:
        raise TypeError("finishing bug")

    monkeypatch.setattr(build_module._Builder, "virtual_service", boom)
    with pytest.raises(ConfigError) as info:
        parse("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n", "a.cf", hostname="h",
              system=FakeSystem())
    assert messages(info) == [
        "a.cf:1: virtual=10.0.0.1:80: internal error while reading this line: "
        "TypeError: finishing bug (please report this)"]


def test_an_exception_outside_any_line_names_the_file(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    def boom(*args: object, **kw: object) -> None:
        raise ValueError("config bug")

    monkeypatch.setattr(build_module._Builder, "config", boom)
    with pytest.raises(ConfigError) as info:
        parse("", "a.cf", hostname="h", system=FakeSystem())
    assert messages(info) == [
        "a.cf: internal error while reading this file: ValueError: config bug "
        "(please report this)"]


def test_load_reports_the_broken_range_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ldirectord.cf"
    path.write_text(BROKEN_RANGE)
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert [m.line for m in info.value.errors] == [2, 3]


def test_check_action_prints_the_internal_error_and_exits_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from ldirectord.config.resolve import RealSystem

    def boom(self: object, name: str, ipv6: bool) -> str | None:
        raise RuntimeError("resolver bug")

    path = tmp_path / "ldirectord.cf"
    path.write_text("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n")
    monkeypatch.setattr(RealSystem, "host", boom)
    assert main(["-t", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == (
        f"{path}:1: virtual=10.0.0.1:80: internal error while reading this line: "
        "RuntimeError: resolver bug (please report this)")
    assert "Traceback" not in err


_INJECT = """
import sys
from ldirectord.config.resolve import RealSystem
def boom(self, name, ipv6):
    raise RuntimeError("resolver bug")
RealSystem.host = boom
from ldirectord.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(args: list[str], tmp_path: Path, inject: bool) -> subprocess.CompletedProcess[str]:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    env = {**os.environ, "LDIRECTORD_RUNDIR": str(run), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", _INJECT] if inject else [sys.executable, "-m",
                                                           "ldirectord.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=tmp_path, check=False)


@pytest.mark.parametrize("inject", [False, True], ids=["broken-range", "resolver-bug"])
@pytest.mark.parametrize("action", ["-t", "start", "--probe"])
def test_actions_print_the_error_and_exit_2_without_a_traceback(
        tmp_path: Path, action: str, inject: bool) -> None:
    path = tmp_path / "ldirectord.cf"
    path.write_text(BROKEN_RANGE if not inject else
                    "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n")
    args = ["--dry-run", str(path), "start"] if action == "start" else [action, str(path)]
    proc = _run(args, tmp_path, inject)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    if inject:
        assert "internal error while reading this line: RuntimeError: resolver bug" \
            in proc.stderr
    else:
        assert 'ambiguous IPv4 address "010.0.0.1"' in proc.stderr
    assert not list((tmp_path / "run").iterdir())  # no pid file left behind
