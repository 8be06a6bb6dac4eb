"""Config lookup (SPEC 1.2), instance names, pid files, and the `-t` summary line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldirectord.cli import main
from ldirectord.paths import instance_name, resolve_config
from ldirectord.runtime.pidfile import pid_path


def test_lookup_order_and_absolute_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    etc, conf, cwd = tmp_path / "etc", tmp_path / "etc" / "conf", tmp_path / "cwd"
    for d in (etc, conf, cwd):
        d.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    dirs = (str(etc), str(conf))
    (cwd / "a.cf").write_text("")
    assert resolve_config("a.cf", dirs) == str(cwd / "a.cf")
    (conf / "a.cf").write_text("")
    assert resolve_config("a.cf", dirs) == str(conf / "a.cf")
    (etc / "a.cf").write_text("")
    assert resolve_config("a.cf", dirs) == str(etc / "a.cf")
    (cwd / "dir.cf").mkdir()
    assert resolve_config("dir.cf", dirs) is None
    assert resolve_config("missing.cf", dirs) is None


def test_instance_name_and_pid_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LDIRECTORD_RUNDIR", raising=False)
    assert instance_name(["/etc/ha.d/ldirectord.cf", "start"]) == "ldirectord.cf"
    assert instance_name(["web", "start"]) == "web"
    assert instance_name(["start"]) == "ldirectord"
    assert pid_path("web") == "/var/run/ldirectord.web.pid"


def test_summary_counts_shared_checks_once(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cf = tmp_path / "s.cf"
    cf.write_text("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\treal=10.0.0.3:80 gate\n"
                  "virtual=10.0.0.9:80\n\treal=10.0.0.2:80 gate\n"
                  "virtual=10.0.0.1:81\n\treal=10.0.0.2:81 gate\n\tchecktype=off\n")
    assert main(["-t", str(cf)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{cf}: OK: 3 virtual services, 4 real servers, 2 checks\n"
    assert err == ""


def test_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--test", str(tmp_path / "none.cf")]) == 1
    assert capsys.readouterr().err == f"Config file {tmp_path / 'none.cf'} not found\n"
