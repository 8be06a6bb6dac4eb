"""`-t` refuses what the kernel (or ipvsadm) is known to refuse, at load time, so `start` and
a reload refuse it too (SPEC Part A 14, 15): the rules are the backends' own (ipvs/rules.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ldirectord.config.kernel import SCHEDULERS
from tests.unit.config.helpers import cfg, errors

REPO = Path(__file__).resolve().parents[3]
V = "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n"
KNOWN = ("dh, fo, lblc, lblcr, lc, mh, nq, ovf, rr, sed, sh, twos, wlc or wrr")


def test_the_kernels_schedulers_are_known() -> None:
    assert SCHEDULERS == {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq",
                          "fo", "ovf", "mh", "twos"}
    for name in sorted(SCHEDULERS):
        assert cfg(V + f"\tscheduler={name}\n").virtuals[0].scheduler == name


def test_an_unknown_scheduler_is_refused_on_its_line() -> None:
    assert errors(V + "\tscheduler=rrr\n") == [
        f'ldirectord.cf:3: scheduler=rrr: unknown scheduler "rrr": the kernel has {KNOWN}']


@pytest.mark.parametrize(("scheduler", "flags", "message"), [
    ("wrr", "sh-fallback", 'scheduler flag "sh-fallback" needs scheduler=sh, not wrr'),
    ("rr", "sh-port,sh-fallback", 'scheduler flag "sh-port" needs scheduler=sh, not rr'),
    ("sh", "mh-port", 'scheduler flag "mh-port" needs scheduler=mh, not sh'),
    ("sh", "sh-port,bogus", 'unknown scheduler flag "bogus" (known: flag-1, flag-2, flag-3, '
                            "sh-fallback, sh-port, mh-fallback, mh-port)"),
])
def test_scheduler_flags_the_kernel_refuses(scheduler: str, flags: str, message: str) -> None:
    assert errors(V + f"\tscheduler={scheduler}\n\tschedflags={flags}\n") == [
        f"ldirectord.cf:4: schedflags={flags}: {message}"]


def test_scheduler_flags_of_their_own_scheduler_are_accepted() -> None:
    vs = cfg(V + "\tscheduler=mh\n\tschedflags=mh-port,mh-fallback\n").virtuals[0]
    assert vs.schedflags == "mh-port,mh-fallback"
    assert cfg(V + "\tschedflags=flag-1\n").virtuals[0].schedflags == "flag-1"


def test_the_default_scheduler_is_named_when_the_flags_need_another() -> None:
    assert errors(V + "\tschedflags=sh-port\n") == [
        'ldirectord.cf:3: schedflags=sh-port: scheduler flag "sh-port" needs scheduler=sh, '
        "not wrr"]


def test_a_lower_threshold_above_the_upper_one_is_refused() -> None:
    # u:0 (the default) has no upper limit in the table, but the kernel still refuses l > u.
    assert errors("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate 1 l:10\n") == [
        "ldirectord.cf:2: real=10.0.0.2:80 gate 1 l:10: lower threshold l:10 is above the "
        "upper threshold u:0: the kernel refuses it (set u: to at least 10)"]


def test_harmless_combinations_stay_accepted() -> None:
    # The original ignores these, and the table it programs is the same: so do we.
    c = cfg(V + "\tnetmask=255.255.255.0\n\tops=yes\n")  # no persistent; ops on TCP
    assert (c.virtuals[0].netmask, c.virtuals[0].ops) == ("255.255.255.0", True)


def test_start_refuses_an_unknown_scheduler(tmp_path: Path) -> None:
    path = tmp_path / "ldirectord.cf"
    path.write_text(V + "\tscheduler=rrr\n")
    run = tmp_path / "run"
    run.mkdir()
    env = {**os.environ, "LDIRECTORD_RUNDIR": str(run), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "ldirectord.cli", "--dry-run", str(path),
                           "start"], capture_output=True, text=True, timeout=60, env=env,
                          check=False)
    assert proc.returncode == 2
    assert 'at line 3: scheduler=rrr: unknown scheduler "rrr"' in proc.stderr
    assert not list(run.iterdir())
