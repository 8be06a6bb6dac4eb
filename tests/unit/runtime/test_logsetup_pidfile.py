"""Log line formats, the pid file's running/stale states, monitor lines, shell commands."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldirectord import logsetup
from ldirectord.logsetup import LogDest, LogMode, configure, ctime, dest_for, log
from ldirectord.runtime import pidfile
from ldirectord.runtime.effects import (
    escape_monitor,
    monitor_line,
    run_shell_command,
    squeeze_id,
)
from ldirectord.runtime.maintenance import candidate_names
from tests.unit.runtime.wallclock import CASES, IDS, WallCase, fixed_wall, perl_env, zone_and_locale

CTIME = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    logsetup.reset()


def test_ctime_is_perls_scalar_localtime() -> None:
    assert re.fullmatch(CTIME, ctime())


@pytest.mark.parametrize("wall", CASES, ids=IDS)
def test_ctime_is_perls_scalar_localtime_on_any_date(wall: WallCase) -> None:
    # The original itself, in the same zone and locale, is the reference.
    perl = subprocess.run(["perl", "-e", "print scalar localtime($ARGV[0])", str(wall.epoch)],
                          env=perl_env(wall), capture_output=True, text=True, check=True)
    assert perl.stdout == wall.stamps[0]
    with zone_and_locale(wall):
        assert ctime(wall.epoch) == wall.stamps[0]


@pytest.mark.parametrize("wall", CASES, ids=IDS)
def test_stamped_lines_on_any_date(wall: WallCase, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    path = tmp_path / "ld.log"
    with fixed_wall(wall):
        configure(LogDest(LogMode.FILE, str(path), "web.cf"))
        log.info("to the file")
        configure(LogDest(LogMode.SUPERVISED))
        log.info("to stdout")
        line = monitor_line("connect:tcp:10.0.0.2:80", True, "ok")
    assert path.read_text() == f"[{wall.stamps[0]}|web.cf|{os.getpid()}] to the file\n"
    assert out.getvalue() == f"[{wall.stamps[0]}] to stdout\n"
    assert line == f"[{wall.stamps[0]}] [{os.getpid()}] connect tcp 10.0.0.2 80 [up] ok\n"


def test_dest_choice() -> None:
    assert dest_for("/x.log", "n", debug=True, supervised=True).mode is LogMode.DEBUG
    assert dest_for("/x.log", "n", debug=False, supervised=True).mode is LogMode.SUPERVISED
    assert dest_for("/x.log", "n", debug=False, supervised=False) == LogDest(
        LogMode.FILE, "/x.log", "n")
    assert dest_for("local0", "n", debug=False, supervised=False).mode is LogMode.SYSLOG


def test_logfile_line_format_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ld.log"
    configure(LogDest(LogMode.FILE, str(path), "web.cf"))
    log.info("Starting Linux Director v1.186-ha as daemon")
    os.rename(path, tmp_path / "ld.log.1")  # logrotate
    log.info("second")
    old = (tmp_path / "ld.log.1").read_text()
    assert re.fullmatch(rf"\[{CTIME}\|web\.cf\|{os.getpid()}\] Starting Linux Director "
                        r"v1\.186-ha as daemon\n", old)
    assert path.read_text().endswith(f"|web.cf|{os.getpid()}] second\n")


def test_supervised_and_debug_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    configure(LogDest(LogMode.SUPERVISED))
    log.info("hello")
    log.debug("hidden")
    assert re.fullmatch(rf"\[{CTIME}\] hello\n", out.getvalue())
    configure(LogDest(LogMode.DEBUG))
    log.info("plain")
    log.debug("detail")
    assert err.getvalue() == "plain\nDEBUG2: detail\n"


def test_syslog_handler_priority_and_ident() -> None:
    handler = logsetup.InfoSysLogHandler.__new__(logsetup.InfoSysLogHandler)
    assert handler.mapPriority("ERROR") == "info"
    record = log.makeRecord("ldirectord", 40, __file__, 1, "msg %s", ("x",), None)
    assert logsetup.InfoSysLogHandler.format(handler, record) == f"ldirectord[{os.getpid()}]: msg x"


def test_pidfile_states(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDIRECTORD_RUNDIR", str(tmp_path))
    path = pidfile.pid_path("web.cf")
    assert path == str(tmp_path / "ldirectord.web.cf.pid")
    assert pidfile.probe(path).state is pidfile.PidState.ABSENT
    # A live process whose command line is the daemon's of instance web.cf.
    script = tmp_path / "bin" / "ldirectord"
    script.parent.mkdir()
    script.write_text("print(flush=True); input()\n")
    proc = subprocess.Popen([sys.executable, str(script), "web.cf", "start"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # it has exec'd: its command line is in place
        pidfile.write(path, proc.pid)
        info = pidfile.probe(path)
        assert info.state is pidfile.PidState.RUNNING
        assert info.pid == proc.pid
        assert not pidfile.remove_if_ours(path)  # not ours: left alone
        assert os.path.exists(path)
    finally:
        proc.communicate(b"\n")
    assert pidfile.probe(path).state is pidfile.PidState.STALE
    pidfile.write(path)
    assert pidfile.remove_if_ours(path)
    assert not os.path.exists(path)


def test_monitor_line_format() -> None:
    real_id = "negotiate:http:tcp:127.0.0.1:18080::3:masq:/index.html:Test Page"
    assert squeeze_id(real_id) == "negotiate http tcp 127.0.0.1 18080 3 masq /index.html Test Page"
    line = monitor_line(real_id, False, "500 Can't connect|x%\r\n")
    assert re.fullmatch(
        rf"\[{CTIME}\] \[{os.getpid()}\] negotiate http tcp 127\.0\.0\.1 18080 3 masq "
        r"/index\.html Test Page \[down\] 500 Can't connect%7cx%25%0d%0a\n", line)
    assert escape_monitor("") == "-"


@pytest.mark.asyncio
async def test_shell_command_gets_args_as_positional_parameters(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The arguments are never spliced into the command text: `;` stays an argument.
    status = await run_shell_command(f"printf '%s|' >{out}", ("start", "1.2.3.4:80;id", "tcp"))
    assert status == 0
    assert out.read_text() == "start|1.2.3.4:80;id|tcp|"


def test_maintenance_names() -> None:
    assert candidate_names("10.0.0.2", 80, "web1.example.com") == [
        "10.0.0.2:80", "10.0.0.2", "web1.example.com:80", "web1.example.com", "web1:80", "web1"]
    assert candidate_names("2001:db8::2", 80, None) == ["[2001:db8::2]:80", "[2001:db8::2]"]
    assert candidate_names("10.0.0.2", 80, "Web1.example.com")[4:] == []
