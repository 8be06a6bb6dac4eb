"""The command line: every action's exit code and streams, in process and as a real daemon.

Pid files live in a temporary directory (LDIRECTORD_RUNDIR); the daemon runs on the
in-memory IPVS table (--dry-run) against listening sockets on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldirectord import logsetup
from ldirectord.cli import main
from tests.waiting import DEADLINE, wait_for

LDIRECTORD = str(Path(sys.executable).parent / "ldirectord")


@pytest.fixture(autouse=True)
def _rundir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setenv("LDIRECTORD_RUNDIR", str(run))
    yield run
    logsetup.reset()


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel completes them from the backlog)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def write_config(tmp_path: Path, port: int = 1, *, extra: str = "", name: str = "web.cf") -> Path:
    path = tmp_path / name
    path.write_text(
        f'logfile="{tmp_path / "ld.log"}"\n'
        "checkinterval=1\n"
        "checktimeout=1\n"
        f"{extra}"
        "\n"
        "virtual=10.9.9.9:80\n"
        f"\treal=127.0.0.1:{port} masq\n"
        "\tservice=http\n"
        "\tchecktype=connect\n"
        "\tscheduler=wrr\n"
    )
    return path



def log_text(tmp_path: Path) -> str:
    path = tmp_path / "ld.log"
    return path.read_text() if path.exists() else ""


class FakeDaemon:
    """A process whose command line is the daemon's of instance web.cf (a script called
    ldirectord run by Python with `web.cf start`), which records the signals it gets."""

    def __init__(self, tmp_path: Path) -> None:
        self.record = tmp_path / "signals"
        code = (
            "import signal, sys, time\n"
            f"rec = open({str(self.record)!r}, 'a', buffering=1)\n"
            "def h(sig, frame):\n"
            "    rec.write(signal.Signals(sig).name + '\\n')\n"
            "    if sig == signal.SIGTERM: sys.exit(0)\n"
            "signal.signal(signal.SIGHUP, h)\n"
            "signal.signal(signal.SIGTERM, h)\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(1)\n"
        )
        script = tmp_path / "fake" / "ldirectord"
        script.parent.mkdir()
        script.write_text(code)
        self.proc = subprocess.Popen([sys.executable, str(script), "web.cf", "start"],
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == b"ready\n"

    def signals(self) -> list[str]:
        return self.record.read_text().split() if self.record.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    daemon = FakeDaemon(tmp_path)
    yield daemon
    daemon.stop()


def pid_file(run: Path, name: str = "web.cf") -> Path:
    return run / f"ldirectord.{name}.pid"


# -- in process ------------------------------------------------------------------------


def test_usage_errors_exit_255_with_usage_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 255
    assert "Usage:" in capsys.readouterr().out
    assert main(["nonsense"]) == 255
    assert main(["-x", "start"]) == 255
    captured = capsys.readouterr()
    assert "Usage:" in captured.out and "Options:" in captured.out
    assert "Unknown option: x" in captured.err


def test_missing_config_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.cf")
    assert main([missing, "status"]) == 1
    assert f"Config file {missing} not found" in capsys.readouterr().err


def test_status_stopped_exits_3_on_stdout(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    assert main([str(cfg), "status"]) == 3
    captured = capsys.readouterr()
    assert captured.out == f"ldirectord is stopped for {cfg}\n"
    assert captured.err == ""


def test_status_stale_exits_1_on_both_streams(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, _rundir: Path) -> None:
    cfg = write_config(tmp_path)
    pid_file(_rundir).write_text("999999999\n")
    assert main([str(cfg), "status"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (f"ldirectord stale pid file {pid_file(_rundir)} for {cfg}\n")
    assert captured.out == f"ldirectord is stopped for {cfg}\n"
    assert pid_file(_rundir).exists()  # status never removes a pid file


def test_status_running_exits_0_on_stderr(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          _rundir: Path, fake_daemon: FakeDaemon) -> None:
    cfg = write_config(tmp_path)
    pid_file(_rundir).write_text(f"{fake_daemon.proc.pid}\n")
    assert main([str(cfg), "status"]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"ldirectord for {cfg} is running with pid: {fake_daemon.proc.pid}\n"
    assert captured.out == ""
    assert "Invoking ldirectord invoked as: " in log_text(tmp_path)


def test_instance_name_is_the_config_argument_as_typed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, _rundir: Path,
        fake_daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    pid_file(_rundir, "web.cf").write_text(f"{fake_daemon.proc.pid}\n")
    assert main(["web.cf", "status"]) == 0
    assert f"for {tmp_path / 'web.cf'} is running" in capsys.readouterr().err


def test_reload_signals_a_running_daemon(tmp_path: Path, _rundir: Path,
                                         fake_daemon: FakeDaemon) -> None:
    cfg = write_config(tmp_path)
    pid_file(_rundir).write_text(f"{fake_daemon.proc.pid}\n")
    assert main([str(cfg), "reload"]) == 0
    wait_for(lambda: fake_daemon.signals() == ["SIGHUP"], "the HUP")
    assert main([str(cfg), "force-reload"]) == 0
    wait_for(lambda: fake_daemon.signals() == ["SIGHUP", "SIGHUP"], "the second HUP")


def test_reload_when_stopped_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    assert main([str(cfg), "reload"]) == 1
    assert f"ldirectord is stopped for {cfg}" in capsys.readouterr().out


def test_stop_when_stopped_exits_0(tmp_path: Path) -> None:
    assert main([str(write_config(tmp_path)), "stop"]) == 0
    assert main([str(write_config(tmp_path)), "try-restart"]) == 0


def test_stop_terms_the_daemon_and_waits(tmp_path: Path, _rundir: Path,
                                         fake_daemon: FakeDaemon) -> None:
    cfg = write_config(tmp_path)
    pid_file(_rundir).write_text(f"{fake_daemon.proc.pid}\n")
    assert main([str(cfg), "stop"]) == 0
    assert fake_daemon.signals() == ["SIGTERM"]
    assert fake_daemon.proc.wait(timeout=DEADLINE) == 0


BROKEN = "checkinterval=2\nbogus=1\nvirtual=1.2.3.4\n"


def test_broken_config_status_and_stop_still_work(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, _rundir: Path,
        fake_daemon: FakeDaemon) -> None:
    cfg = tmp_path / "web.cf"
    cfg.write_text(BROKEN)
    pid = pid_file(_rundir)
    pid.write_text(f"{fake_daemon.proc.pid}\n")
    assert main([str(cfg), "status"]) == 0
    captured = capsys.readouterr()
    assert f"reading file {cfg} at line 2: " in captured.err
    assert f"is running with pid: {fake_daemon.proc.pid}" in captured.err
    assert pid.exists()  # Part A §3: never removed by someone who did not write it
    # reload with a broken file: exit 2, no signal.
    assert main([str(cfg), "reload"]) == 2
    assert "at line 3: " in capsys.readouterr().err
    assert fake_daemon.signals() == []
    assert pid.exists()
    # start and restart refuse it too, stop still stops the daemon.
    assert main([str(cfg), "start"]) == 2
    assert main([str(cfg), "restart"]) == 2
    assert fake_daemon.signals() == []
    assert main([str(cfg), "stop"]) == 0
    assert fake_daemon.signals() == ["SIGTERM"]
    assert pid.exists()


def test_broken_config_status_when_stopped(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    cfg = tmp_path / "web.cf"
    cfg.write_text(BROKEN)
    assert main([str(cfg), "status"]) == 3
    captured = capsys.readouterr()
    assert captured.out == f"ldirectord is stopped for {cfg}\n"
    assert "Error [" in captured.err


def test_a_service_without_checker_is_refused_at_start(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "web.cf"
    cfg.write_text(write_config(tmp_path).read_text().replace("service=http", "service=oracle")
                   .replace("checktype=connect", "checktype=negotiate"))
    assert main([str(cfg), "start"]) == 2
    assert "oracle" in capsys.readouterr().err


# -- the console script, a real daemon -------------------------------------------------


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LDIRECTORD, *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy(), check=False)


@pytest.fixture
def daemon_cleanup(_rundir: Path) -> Iterator[None]:
    yield
    for path in _rundir.glob("ldirectord.*.pid"):
        try:
            pid = int(path.read_text())
        except ValueError:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_daemon_lifecycle(tmp_path: Path, _rundir: Path, listener: int,
                          daemon_cleanup: None) -> None:
    cfg = write_config(tmp_path, listener)
    pid = pid_file(_rundir)
    started = run("--dry-run", str(cfg), "start")
    assert started.returncode == 0, started.stderr
    assert pid.exists()  # start returns once the daemon is ready
    daemon_pid = int(pid.read_text())
    wait_for(lambda: "Added real server: 127.0.0.1:" in log_text(tmp_path), "the real's check")
    text = log_text(tmp_path)
    assert "Starting Linux Director v1.186-ha as daemon" in text
    assert f"|web.cf|{daemon_pid}] Added virtual server: 10.9.9.9:80" in text

    status = run(str(cfg), "status")
    assert (status.returncode, status.stdout) == (0, "")
    assert status.stderr == f"ldirectord for {cfg} is running with pid: {daemon_pid}\n"
    assert run("--dry-run", str(cfg), "start").returncode == 0  # already running: nothing
    assert int(pid.read_text()) == daemon_pid

    assert run(str(cfg), "reload").returncode == 0
    wait_for(lambda: "Reloading Linux Director Daemon config on signal" in log_text(tmp_path),
             "the reload")

    # A broken file: reload exits 2 without signalling; the daemon keeps running.
    good = cfg.read_text()
    cfg.write_text(BROKEN)
    before = log_text(tmp_path).count("Reloading")
    broken = run(str(cfg), "reload")
    assert broken.returncode == 2
    assert "reading file" in broken.stderr
    assert run(str(cfg), "status").returncode == 0
    cfg.write_text(good)
    assert log_text(tmp_path).count("Reloading") == before

    stopped = run(str(cfg), "stop")
    assert stopped.returncode == 0
    assert not pid.exists()  # stop waits for the cleanup
    text = log_text(tmp_path)
    assert "Purged virtual server (stop): 10.9.9.9:80" in text
    assert text.rstrip().endswith("Linux Director Daemon terminated on signal: TERM")
    status = run(str(cfg), "status")
    assert (status.returncode, status.stdout, status.stderr) == (
        3, f"ldirectord is stopped for {cfg}\n", "")


def test_restart_replaces_the_daemon(tmp_path: Path, _rundir: Path, listener: int,
                                     daemon_cleanup: None) -> None:
    cfg = write_config(tmp_path, listener)
    pid = pid_file(_rundir)
    assert run("--dry-run", str(cfg), "start").returncode == 0
    first = int(pid.read_text())
    restarted = run("--dry-run", str(cfg), "restart")
    assert restarted.returncode == 0, restarted.stderr
    second = int(pid.read_text())
    assert second != first
    assert run(str(cfg), "status").returncode == 0
    assert run(str(cfg), "stop").returncode == 0


def test_autoreload_rereads_a_changed_file(tmp_path: Path, _rundir: Path, listener: int,
                                           daemon_cleanup: None) -> None:
    cfg = write_config(tmp_path, listener, extra="autoreload=yes\n")
    assert run("--dry-run", str(cfg), "start").returncode == 0
    wait_for(lambda: "Added real server" in log_text(tmp_path), "the first check")
    cfg.write_text(cfg.read_text().replace("10.9.9.9:80", "10.9.9.8:80"))
    # The purge of the old virtual is the reload's last line.
    wait_for(lambda: "Purged virtual server (start): 10.9.9.9:80" in log_text(tmp_path),
             "the autoreload")
    text = log_text(tmp_path)
    assert "Added virtual server: 10.9.9.8:80" in text
    assert f"Configuration file '{cfg}' has changed on disk" in text
    assert " - reread new configuration" in text
    assert run(str(cfg), "stop").returncode == 0


def test_debug_mode_runs_in_the_foreground_on_the_memory_table(
        tmp_path: Path, _rundir: Path, listener: int) -> None:
    cfg = write_config(tmp_path, listener)
    proc = subprocess.Popen([LDIRECTORD, "-d", "--dry-run", str(cfg), "start"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Added real server"):
                break
        assert f"Starting Linux Director v1.186-ha with pid: {proc.pid}" in lines
        assert "Running system(ipvsadm -A -t 10.9.9.9:80 -s wrr)" in lines
        assert lines[-1].startswith("Added real server: 127.0.0.1:")
        assert not list(_rundir.iterdir())  # no pid file in the foreground
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 0
        assert "Linux Director Daemon terminated on signal: INT" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_execute_sub_instances_follow_the_parent(tmp_path: Path, _rundir: Path, listener: int,
                                                 daemon_cleanup: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDIRECTORD_IPVS", "memory")  # inherited by the sub-instance
    child = write_config(tmp_path, listener, name="child.cf")
    parent = write_config(tmp_path, listener, extra=f"execute={child}\n")
    assert run(str(parent), "start").returncode == 0
    wait_for(lambda: pid_file(_rundir, "child.cf").exists(), "the sub-instance")
    status = run(str(parent), "status")
    assert status.returncode == 0
    assert f"ldirectord for {parent} is running" in status.stderr
    assert f"ldirectord for {child} is running" in status.stderr
    assert run(str(parent), "stop").returncode == 0
    assert not pid_file(_rundir, "child.cf").exists()  # stopped before the parent exits
    assert not pid_file(_rundir).exists()


def test_an_unusable_forced_backend_is_refused_and_debug_mode_runs_on_memory_if_told(
        tmp_path: Path, _rundir: Path, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # An unknown forced backend stands for "no usable IPVS" on any machine.
    monkeypatch.setenv("LDIRECTORD_IPVS", "none-here")
    cfg = write_config(tmp_path, listener)
    daemon = run(str(cfg), "start")
    assert daemon.returncode == 2
    assert "did not start" in daemon.stderr
    assert "Could not open IPVS: " in log_text(tmp_path)
    assert not pid_file(_rundir).exists()
    # A forced backend never falls back (docs/ipvs.md), in debug mode neither.
    debug = subprocess.run([LDIRECTORD, "-d", str(cfg), "start"], stderr=subprocess.PIPE,
                           text=True, timeout=DEADLINE)
    assert debug.returncode == 2
    assert "a forced backend never falls back" in debug.stderr
    assert "Added virtual server" not in debug.stderr
    monkeypatch.setenv("LDIRECTORD_IPVS", "memory")
    proc = subprocess.Popen([LDIRECTORD, "-d", str(cfg), "start"], stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + DEADLINE
        seen = ""
        while time.monotonic() < deadline and "Added virtual server" not in seen:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "Added virtual server: 10.9.9.9:80" in seen
        proc.terminate()
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_check_without_a_file_names_every_path_searched(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ldirectord.paths import config_candidates

    searched = [os.path.abspath(p) for p in config_candidates("ldirectord.cf")]
    monkeypatch.chdir(tmp_path)
    searched[-1] = str(tmp_path / "ldirectord.cf")
    if any(os.path.exists(p) for p in searched):
        pytest.skip("this machine has an ldirectord.cf")
    assert main(["-t"]) == 1
    assert capsys.readouterr().err == (
        "Config file ldirectord.cf not found (searched /etc/ha.d/ldirectord.cf, "
        f"/etc/ha.d/conf/ldirectord.cf, {tmp_path / 'ldirectord.cf'})\n")
    assert main(["-t", "web.cf"]) == 1
    assert capsys.readouterr().err == (
        "Config file web.cf not found (searched /etc/ha.d/web.cf, /etc/ha.d/conf/web.cf, "
        f"{tmp_path / 'web.cf'})\n")
