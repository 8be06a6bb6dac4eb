"""The conf/ scripts: shellcheck-clean, and the OCF agent and heartbeat script driving a daemon."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[3] / "conf"
OCF = CONF / "ldirectord.ocf"
HEARTBEAT = CONF / "resource.d" / "ldirectord"
LDIRECTORD = str(Path(sys.executable).parent / "ldirectord")
OCF_SUCCESS, OCF_ERR_INSTALLED, OCF_ERR_CONFIGURED, OCF_NOT_RUNNING = 0, 5, 6, 7


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck() -> None:
    done = subprocess.run(["shellcheck", "-s", "sh", str(OCF), str(HEARTBEAT)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_systemd_unit_keeps_the_original_contract() -> None:
    unit = (CONF / "ldirectord.service").read_text()
    for line in ("Type=forking", "PIDFile=/run/ldirectord.ldirectord.pid",
                 "ExecStart=/usr/sbin/ldirectord start", "ExecStop=/usr/sbin/ldirectord stop",
                 "ExecReload=/usr/sbin/ldirectord reload", "KillMode=process"):
        assert f"\n{line}\n" in unit


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    run = tmp_path / "run"
    run.mkdir()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    cfg = tmp_path / "lvs.cf"
    cfg.write_text(f'logfile="{tmp_path / "ld.log"}"\ncheckinterval=1\n\n'
                   f"virtual=10.9.9.9:80\n\treal=127.0.0.1:{sock.getsockname()[1]} masq\n"
                   "\tchecktype=connect\n")
    environ = dict(os.environ, LDIRECTORD_RUNDIR=str(run), LDIRECTORD_IPVS="memory",
                   OCF_ROOT=str(tmp_path / "no-ocf"), OCF_RESKEY_configfile=str(cfg),
                   OCF_RESKEY_ldirectord=LDIRECTORD, LDIRECTORD=LDIRECTORD)
    yield environ
    subprocess.run([LDIRECTORD, str(cfg), "stop"], env=environ, check=False,
                   capture_output=True)
    sock.close()


def ocf(action: str, env: dict[str, str], shell: str = "sh") -> int:
    return subprocess.run([shell, str(OCF), action], env=env, capture_output=True,
                          check=False, timeout=60).returncode


def test_ocf_meta_data_is_xml() -> None:
    out = subprocess.run(["sh", str(OCF), "meta-data"], capture_output=True, text=True,
                         check=True).stdout
    root = ET.fromstring(out)
    assert root.get("name") == "ldirectord"
    assert {p.get("name") for p in root.iter("parameter")} == {"configfile", "ldirectord"}


def test_ocf_lifecycle(env: dict[str, str], tmp_path: Path) -> None:
    assert ocf("monitor", env) == OCF_NOT_RUNNING
    assert ocf("start", env) == OCF_SUCCESS
    assert ocf("monitor", env) == OCF_SUCCESS
    assert ocf("start", env) == OCF_SUCCESS  # already running
    assert ocf("stop", env) == OCF_SUCCESS
    assert ocf("monitor", env) == OCF_NOT_RUNNING
    assert ocf("stop", env) == OCF_SUCCESS  # already stopped
    # A stale pid file is "not running", not an error.
    (Path(env["LDIRECTORD_RUNDIR"]) / "ldirectord.lvs.cf.pid").write_text("999999999\n")
    assert ocf("monitor", env) == OCF_NOT_RUNNING


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("missing", ["configfile", "ldirectord"])
def test_ocf_missing_config_or_binary_stops_cleanly(env: dict[str, str], tmp_path: Path,
                                                    missing: str, shell: str) -> None:
    # A failed stop makes Pacemaker fence the node: with nothing to run there is nothing
    # running, so stop succeeds and monitor says "not running" (as resource-agents does).
    gone = dict(env, **{f"OCF_RESKEY_{missing}": str(tmp_path / "absent")})
    assert ocf("stop", gone, shell) == OCF_SUCCESS
    assert ocf("monitor", gone, shell) == OCF_NOT_RUNNING
    assert ocf("start", gone, shell) == OCF_ERR_INSTALLED
    assert ocf("validate-all", gone, shell) == OCF_ERR_INSTALLED


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_ocf_broken_config_is_not_configured(env: dict[str, str], shell: str) -> None:
    assert ocf("validate-all", env, shell) == OCF_SUCCESS
    cfg = Path(env["OCF_RESKEY_configfile"])
    cfg.write_text(cfg.read_text() + "bogus=1\n")
    assert ocf("validate-all", env, shell) == OCF_ERR_CONFIGURED
    assert ocf("start", env, shell) == OCF_ERR_CONFIGURED
    assert ocf("monitor", env, shell) == OCF_NOT_RUNNING
    assert ocf("stop", env, shell) == OCF_SUCCESS
    assert not list(Path(env["LDIRECTORD_RUNDIR"]).glob("*.pid"))  # start did not run it


def test_heartbeat_status_words(env: dict[str, str]) -> None:
    cfg = env["OCF_RESKEY_configfile"]

    def hb(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(HEARTBEAT), cfg, action], env=env, text=True,
                              capture_output=True, check=False, timeout=60)

    stopped = hb("status")
    assert "stopped" in stopped.stdout.lower()
    assert "running" not in (stopped.stdout + stopped.stderr).lower()
    assert hb("start").returncode == 0
    running = hb("status")
    assert "running" in (running.stdout + running.stderr).lower()
    assert hb("stop").returncode == 0
