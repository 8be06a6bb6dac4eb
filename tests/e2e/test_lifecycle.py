"""start/stop/status/reload of a detached daemon: exit codes, streams, pid file, the table.

One scenario, because every command is a Python start (slow under emulation): status of
a stopped instance, start, status, a reload with a broken file (refused, nothing changes,
and a HUP with that file keeps everything too), a reload that changes one real (only that
real is written), `kill -9` and start again (entries at weight > 0 untouched), stop with
cleanstop, status and reload of the stopped instance. Exit codes and streams are SPEC
Part B §1.4 with Part A §3; log lines are §5.4.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.e2e.conftest import Reals
from tests.e2e.harness import (
    CHANGE,
    E2E_TIMEOUT,
    START,
    VIP,
    Log,
    cli,
    ipvs_lines,
    wait_for,
    wait_table,
)
from tests.lab import Kind

RS1, RS2 = "10.0.1.11", "10.0.1.12"

FULL = f"""
TCP {VIP}:21 rr persistent 600
  -> {RS1}:21 Masq 1
  -> {RS2}:21 Masq 1
TCP {VIP}:80 rr
  -> {RS1}:80 Masq 1
  -> {RS2}:80 Masq 1
"""


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (the VM's init may be slow to reap)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.timeout(E2E_TIMEOUT)
def test_daemon_lifecycle(lab: Reals, tmp_path: Path, env: dict[str, str]) -> None:
    cfg = tmp_path / "web.cf"
    logfile = tmp_path / "ldirectord.log"
    good = harness.config_text(RS1, RS2, extra_globals=[f'logfile="{logfile}"'])
    cfg.write_text(good)
    pidfile = Path(env["LDIRECTORD_RUNDIR"]) / "ldirectord.web.cf.pid"
    log = Log(logfile)
    stopped = f"ldirectord is stopped for {cfg}\n"
    pid = 0
    try:
        # status of an instance that never ran: 3, on stdout.
        done = cli(str(cfg), "status", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (3, stopped, "")

        # start: 0 once the daemon is up, with its pid file; nothing on the streams.
        done = cli(str(cfg), "start", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        pid = int(pidfile.read_text())
        assert _alive(pid)
        assert "Starting Linux Director v1.186-ha as daemon" in log.messages()
        wait_table(FULL, timeout=START)

        done = cli(str(cfg), "status", env=env)
        assert (done.returncode, done.stdout) == (0, "")
        assert done.stderr == f"ldirectord for {cfg} is running with pid: {pid}\n"

        # reload with a broken file: exit 2, the errors on stderr, the daemon not signalled.
        cfg.write_text(good + "\tbogus_directive=1\n")
        log.advance()
        done = cli(str(cfg), "reload", env=env)
        assert done.returncode == 2
        assert done.stdout == ""
        assert "reading file" in done.stderr and "line" in done.stderr
        # a HUP with that file: every error logged, nothing else changes.
        os.kill(pid, signal.SIGHUP)
        new = log.wait("Reloading Linux Director Daemon config on signal")
        wait_for("the reload's error line",
                 lambda: any(m.startswith(f"Error [{pid}] reading file {cfg} at line ")
                             for m in log.new()))
        # Health changes still reach the table after the failed reload.
        lab.stop(lab.rs1, Kind.HTTP)
        new = log.wait(f"Deleted real server: {RS1}:80 ({VIP}:80)")
        assert ipvs_lines(new) == [f"Deleted real server: {RS1}:80 ({VIP}:80)"]
        assert "Reloading Linux Director Daemon config on signal" in new
        lab.start(lab.rs1, Kind.HTTP)
        log.wait(f"Added real server: {RS1}:80 ({VIP}:80) (Weight set to 1)")
        wait_table(FULL)
        assert int(pidfile.read_text()) == pid

        # A reload that changes one real's weight writes that real and nothing else.
        cfg.write_text(harness.config_text(RS1, RS2, http_weight=3,
                                           extra_globals=[f'logfile="{logfile}"']))
        log.advance()
        done = cli(str(cfg), "reload", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        changed = f"Restored real server: {RS2}:80 ({VIP}:80) (Weight set to 3)"
        log.wait("Reloading Linux Director Daemon config on signal", changed)
        three = FULL.replace(f"{RS2}:80 Masq 1", f"{RS2}:80 Masq 3")
        wait_table(three)
        # A later, known event bounds the window in which nothing else may be written.
        lab.stop(lab.rs1, Kind.FTP)
        sentinel = f"Deleted real server: {RS1}:21 ({VIP}:21)"
        new = log.wait(sentinel)
        assert ipvs_lines(new) == [changed, sentinel]
        lab.start(lab.rs1, Kind.FTP)
        log.wait(f"Added real server: {RS1}:21 ({VIP}:21) (Weight set to 1)")
        wait_table(three)

        # kill -9: the pid file stays behind (stale), the table stays as it was.
        os.kill(pid, signal.SIGKILL)
        wait_for("the killed daemon to go", lambda: not _alive(pid), CHANGE)
        done = cli(str(cfg), "status", env=env)
        assert done.returncode == 1
        assert done.stdout == stopped
        assert done.stderr == f"ldirectord stale pid file {pidfile} for {cfg}\n"
        assert harness.table() == harness.expect_table(three)

        # start again: every entry at weight > 0 is kept as it is (Part A §2).
        log.advance()
        done = cli(str(cfg), "start", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        new_pid = int(pidfile.read_text())
        assert new_pid != pid
        pid = new_pid
        lab.stop(lab.rs2, Kind.FTP)
        sentinel = f"Deleted real server: {RS2}:21 ({VIP}:21)"
        new = log.wait(sentinel)
        assert ipvs_lines(new) == [sentinel]
        lab.start(lab.rs2, Kind.FTP)
        log.wait(f"Added real server: {RS2}:21 ({VIP}:21) (Weight set to 1)")
        wait_table(three)

        # stop (cleanstop=yes, the default): waits for the cleanup; the table is empty.
        log.advance()
        done = cli(str(cfg), "stop", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        wait_for("the daemon to exit", lambda: not _alive(pid), CHANGE)
        assert not pidfile.exists()
        new = log.new()
        assert "Linux Director Daemon terminated on signal: TERM" in new
        assert sorted(ipvs_lines(new)) == sorted([
            *(f"Purged real server (stop): {rip}:{port} ({VIP}:{port})"
              for rip in (RS1, RS2) for port in (80, 21)),
            f"Purged virtual server (stop): {VIP}:80",
            f"Purged virtual server (stop): {VIP}:21",
        ])
        assert harness.table() == ""

        done = cli(str(cfg), "status", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (3, stopped, "")
        done = cli(str(cfg), "reload", env=env)
        assert (done.returncode, done.stdout, done.stderr) == (1, stopped, "")
    finally:
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
            wait_for("the daemon to be killed", lambda: not _alive(pid), CHANGE)
