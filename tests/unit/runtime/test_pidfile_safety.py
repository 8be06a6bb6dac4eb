"""The pid file: written without following symlinks, and only our own daemon counts as running."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldirectord.runtime import pidfile
from tests.waiting import wait_for

LDIRECTORD = str(Path(sys.executable).parent / "ldirectord")



def run(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [LDIRECTORD, *args]
    if umask is not None:  # the shell sets the umask the daemon inherits, then execs it
        cmd = ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env=os.environ.copy(), check=False)


def write_config(tmp_path: Path, name: str = "web.cf") -> Path:
    path = tmp_path / name
    path.write_text(f'logfile="{tmp_path / "ld.log"}"\ncheckinterval=1\n\n'
                    "virtual=10.9.9.9:80\n\treal=127.0.0.1:1 masq\n\tchecktype=off\n")
    return path


# -- writing ---------------------------------------------------------------------------


def test_a_symlink_at_the_old_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "ldirectord.web.cf.pid"
    planted = Path(f"{path}.{os.getpid()}.tmp")
    planted.symlink_to(victim)
    pidfile.write(str(path), 4242)
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink()
    assert path.read_text() == "4242\n"
    assert planted.is_symlink()  # not ours: left where it was
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, planted.name, "victim"]


def test_a_symlink_at_the_pid_path_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "ldirectord.web.cf.pid"
    path.symlink_to(victim)
    pidfile.write(str(path), 4242)
    assert victim.read_text() == "precious\n"
    assert not path.is_symlink()
    assert path.read_text() == "4242\n"


def test_a_failed_write_leaves_no_temporary_behind(tmp_path: Path) -> None:
    path = tmp_path / "ldirectord.web.cf.pid"
    path.mkdir()  # the rename onto a directory fails
    with pytest.raises(OSError):
        pidfile.write(str(path), 4242)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_daemon_creates_nothing_world_writable(tmp_path: Path, rundir: Path) -> None:
    cfg = write_config(tmp_path)
    started = run("--dry-run", str(cfg), "start", umask=0)
    try:
        assert started.returncode == 0, started.stderr
        mode = stat.S_IMODE((rundir / "ldirectord.web.cf.pid").stat().st_mode)
        assert mode & 0o022 == 0, oct(mode)
        assert mode & 0o444 == 0o444, oct(mode)  # readable by status, as before
        log_mode = stat.S_IMODE((tmp_path / "ld.log").stat().st_mode)
        assert log_mode & 0o022 == 0, oct(log_mode)
    finally:
        assert run(str(cfg), "stop").returncode == 0


# -- is it our daemon ------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["/usr/sbin/ldirectord", "web.cf", "start"],
    ["ldirectord", "-d", "--dry-run", "/etc/ha.d/web.cf", "start"],
    ["/usr/bin/python3", "/usr/sbin/ldirectord", "web.cf", "restart"],
    ["/usr/bin/python3.11", "-I", "/usr/local/bin/ldirectord", "--", "/x/web.cf", "start"],
    ["python3", "-m", "ldirectord.cli", "--dry-run", "conf/web.cf", "start"],
    ["/usr/bin/perl", "-w", "/usr/sbin/ldirectord", "web.cf", "start"],
])
def test_our_daemon_is_recognised_by_program_and_instance(argv: list[str]) -> None:
    assert pidfile.is_our_command(argv, "web.cf")


@pytest.mark.parametrize("argv", [
    ["tail", "-f", "/var/log/ldirectord.log"],
    ["less", "/etc/ha.d/ldirectord.cf"],
    ["ldirectord", "1000"],  # `exec -a ldirectord sleep 1000`
    ["/usr/sbin/ldirectord", "other.cf", "start"],  # another instance
    ["/usr/sbin/ldirectord", "start"],  # the instance called `ldirectord`
    ["/usr/bin/python3", "/home/me/ldirectord-notes.py", "web.cf", "start"],
    ["/usr/bin/python3", "-c", "ldirectord", "web.cf", "start"],
    ["vim", "ldirectord", "web.cf", "start"],
    [],
])
def test_other_command_lines_are_not_our_daemon(argv: list[str]) -> None:
    assert not pidfile.is_our_command(argv, "web.cf")


def test_the_default_instance_is_the_one_started_without_a_config_argument() -> None:
    assert pidfile.is_our_command(["/usr/sbin/ldirectord", "start"], "ldirectord")
    assert not pidfile.is_our_command(["/usr/sbin/ldirectord", "web.cf", "start"], "ldirectord")


@pytest.fixture
def unrelated(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[bytes]]:
    """A live process whose command line mentions ldirectord but that is not our daemon."""
    log = tmp_path / "ldirectord.log"
    log.write_text("")
    if request.param == "tail":
        cmd = ["tail", "-f", str(log)]
    else:  # argv[0] is exactly `ldirectord`, but the rest is not our command line
        cmd = ["bash", "-c", "exec -a ldirectord sleep 1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    wait_for(lambda: b"ldirectord" in Path(f"/proc/{proc.pid}/cmdline").read_bytes(),
             "the process's command line")
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("unrelated", ["tail", "exec-a"], indirect=True)
def test_a_stale_pid_file_naming_an_unrelated_process_is_stale_and_stop_spares_it(
        tmp_path: Path, rundir: Path, unrelated: subprocess.Popen[bytes]) -> None:
    cfg = write_config(tmp_path)
    (rundir / "ldirectord.web.cf.pid").write_text(f"{unrelated.pid}\n")
    status = run(str(cfg), "status")
    assert status.returncode == 1
    assert "ldirectord stale pid file" in status.stderr
    assert run(str(cfg), "stop").returncode == 0
    assert unrelated.poll() is None  # not signalled: still running
    assert (rundir / "ldirectord.web.cf.pid").exists()  # and the file is not ours to remove


@pytest.mark.parametrize("how", ["console-script", "python-m"])
def test_a_real_daemon_is_recognised(tmp_path: Path, rundir: Path, how: str) -> None:
    cfg = write_config(tmp_path)
    start = [LDIRECTORD] if how == "console-script" else [sys.executable, "-m", "ldirectord.cli"]
    started = subprocess.run([*start, "--dry-run", str(cfg), "start"], capture_output=True,
                             text=True, timeout=60, check=False)
    pid_path = rundir / "ldirectord.web.cf.pid"
    try:
        assert started.returncode == 0, started.stderr
        pid = int(pid_path.read_text())
        assert pidfile.probe(str(pid_path)).state is pidfile.PidState.RUNNING
        status = run(str(cfg), "status")
        assert (status.returncode, status.stderr) == (
            0, f"ldirectord for {cfg} is running with pid: {pid}\n")
    finally:
        assert run(str(cfg), "stop").returncode == 0
    assert not pid_path.exists()  # stop returned once the daemon had cleaned up
