"""Real servers leaving and rejoining the kernel table, in the daemon's foreground modes.

The classic two-virtual setup (HTTP :80 with a fallback, FTP :21 persistent 600, rr,
masq) against nginx and proftpd in the lab's namespaces. quiescent=no (under `-d`): a
failed real's entry is deleted; with every HTTP real down the fallback goes in, and leaves
when one returns. quiescent=yes (under `supervised=yes`): a failed real's entries go to
weight 0, including a black-holed host whose packets are silently dropped. Each step is
checked in `ipvsadm -Ln` and in the exact log lines of SPEC Part B §5.4.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import harness
from tests.e2e.conftest import Reals
from tests.e2e.harness import E2E_TIMEOUT, FALLBACK, START, VIP, Foreground, ipvs_lines, wait_table
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


def added(rip: str, port: int, weight: int = 1) -> str:
    return f"Added real server: {rip}:{port} ({VIP}:{port}) (Weight set to {weight})"


def deleted(rip: str, port: int) -> str:
    return f"Deleted real server: {rip}:{port} ({VIP}:{port})"


@pytest.fixture
def run(lab: Reals, tmp_path: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Start a foreground daemon on a config; always stopped (or killed) afterwards."""
    started: list[Foreground] = []

    def start(text: str, *, debug: bool = True) -> Foreground:
        cfg = tmp_path / "ldirectord.cf"
        cfg.write_text(text)
        daemon = Foreground(cfg, tmp_path / "output.log", env, debug=debug)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


@pytest.mark.timeout(E2E_TIMEOUT)
def test_quiescent_no_deletes_and_fallback(lab: Reals, run) -> None:  # type: ignore[no-untyped-def]
    d = run(harness.config_text(RS1, RS2))
    d.log.wait("Added virtual server: 10.0.0.1:80", "Added virtual server: 10.0.0.1:21",
               added(RS1, 80), added(RS2, 80), added(RS1, 21), added(RS2, 21), timeout=START)
    wait_table(FULL)
    assert not any("fallback" in line for line in ipvs_lines(d.log.new()))

    # One HTTP real stops: its entry leaves the table; FTP is not affected.
    d.log.advance()
    lab.stop(lab.rs1, Kind.HTTP)
    new = d.log.wait(deleted(RS1, 80))
    wait_table(FULL.replace(f"  -> {RS1}:80 Masq 1\n", ""))
    assert ipvs_lines(new) == [deleted(RS1, 80)]

    # It comes back: restored with its configured weight.
    d.log.advance()
    lab.start(lab.rs1, Kind.HTTP)
    new = d.log.wait(added(RS1, 80))
    wait_table(FULL)
    assert ipvs_lines(new) == [added(RS1, 80)]

    # Every HTTP real stops: the fallback takes over.
    d.log.advance()
    lab.stop(lab.rs1, Kind.HTTP)
    lab.stop(lab.rs2, Kind.HTTP)
    fallback_in = f"Added fallback server: {FALLBACK} ({VIP}:80) (Weight set to 1)"
    new = d.log.wait(deleted(RS1, 80), deleted(RS2, 80), fallback_in)
    wait_table(f"""
        TCP {VIP}:21 rr persistent 600
          -> {RS1}:21 Masq 1
          -> {RS2}:21 Masq 1
        TCP {VIP}:80 rr
          -> {FALLBACK} Route 1
    """)
    assert sorted(ipvs_lines(new)) == sorted([deleted(RS1, 80), deleted(RS2, 80), fallback_in])

    # One returns: it goes in and the fallback leaves.
    d.log.advance()
    lab.start(lab.rs2, Kind.HTTP)
    fallback_out = f"Deleted fallback server: {FALLBACK} ({VIP}:80)"
    new = d.log.wait(added(RS2, 80), fallback_out)
    wait_table(FULL.replace(f"  -> {RS1}:80 Masq 1\n", ""))
    assert ipvs_lines(new) == [added(RS2, 80), fallback_out]

    d.log.advance()
    lab.start(lab.rs1, Kind.HTTP)
    d.log.wait(added(RS1, 80))
    wait_table(FULL)

    # TERM with cleanstop (the default): everything the daemon put in goes.
    d.log.advance()
    assert d.terminate() == 0
    new = d.log.new()
    assert "Linux Director Daemon terminated on signal: TERM" in new
    assert sorted(ipvs_lines(new)) == sorted([
        *(f"Purged real server (stop): {rip}:{port} ({VIP}:{port})"
          for rip in (RS1, RS2) for port in (80, 21)),
        f"Purged virtual server (stop): {VIP}:80",
        f"Purged virtual server (stop): {VIP}:21",
    ])
    assert harness.table() == ""


@pytest.mark.timeout(E2E_TIMEOUT)
def test_quiescent_yes_weight_zero_and_blackhole(lab: Reals, run) -> None:  # type: ignore[no-untyped-def]
    d = run(harness.config_text(RS1, RS2, quiescent=True, cleanstop=False,
                                extra_globals=["supervised=yes"]), debug=False)
    d.log.wait(f"Starting Linux Director v1.186-ha with pid: {d.proc.pid}",
               added(RS1, 80), added(RS2, 80), added(RS1, 21), added(RS2, 21), timeout=START)
    wait_table(FULL)

    # rs2 drops every packet silently: both its entries go to weight 0, nothing is deleted.
    d.log.advance()
    lab.blackhole(lab.rs2)
    quiesced = [f"Quiescent real server: {RS2}:{p} ({VIP}:{p}) (Weight set to 0)"
                for p in (80, 21)]
    new = d.log.wait(*quiesced)
    wait_table(FULL.replace(f"{RS2}:80 Masq 1", f"{RS2}:80 Masq 0")
               .replace(f"{RS2}:21 Masq 1", f"{RS2}:21 Masq 0"))
    assert sorted(ipvs_lines(new)) == sorted(quiesced)

    # Its packets flow again: both restored to their configured weight.
    d.log.advance()
    lab.unblackhole(lab.rs2)
    restored = [f"Restored real server: {RS2}:{p} ({VIP}:{p}) (Weight set to 1)"
                for p in (80, 21)]
    new = d.log.wait(*restored)
    wait_table(FULL)
    assert sorted(ipvs_lines(new)) == sorted(restored)

    # The FTP server of rs1 stops and returns; HTTP on the same host is not affected.
    d.log.advance()
    lab.stop(lab.rs1, Kind.FTP)
    quiet = f"Quiescent real server: {RS1}:21 ({VIP}:21) (Weight set to 0)"
    new = d.log.wait(quiet)
    wait_table(FULL.replace(f"{RS1}:21 Masq 1", f"{RS1}:21 Masq 0"))
    assert ipvs_lines(new) == [quiet]
    d.log.advance()
    lab.start(lab.rs1, Kind.FTP)
    back = f"Restored real server: {RS1}:21 ({VIP}:21) (Weight set to 1)"
    new = d.log.wait(back)
    wait_table(FULL)
    assert ipvs_lines(new) == [back]

    # TERM with cleanstop=no: the table is left exactly as it is.
    before = harness.ipvsadm_ln()
    d.log.advance()
    assert d.terminate() == 0
    new = d.log.new()
    assert "Linux Director Daemon terminated on signal: TERM" in new
    assert ipvs_lines(new) == []
    assert harness.table() == harness.expect_table(FULL)
    assert harness.ipvsadm_ln().splitlines()[3:] == before.splitlines()[3:]
