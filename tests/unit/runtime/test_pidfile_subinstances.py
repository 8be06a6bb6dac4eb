"""`execute=` sub-instances: started with our own command line, and --dry-run passed on.

The parent is a real daemon started through a script called `ldirectord` (so that it runs
the sub-instances through that same script); the script records every invocation for
the sub-instance's config and does nothing else, so a mistake can never reach the kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_for

RECORDER = """\
import json, os, sys
if any(arg.endswith("child.cf") for arg in sys.argv[1:]):
    with open(os.environ["RECORD"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(sys.argv[1:]) + "\\n")
    sys.exit(0)
from ldirectord.cli import main
sys.exit(main())
"""



def recorded(path: Path) -> list[list[str]]:
    import json

    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(("options", "passed"), [
    (["--dry-run"], ["--dry-run"]),
    ([], []),
])
def test_sub_instances_get_the_parents_dry_run(tmp_path: Path, options: list[str],
                                               passed: list[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    script = tmp_path / "bin" / "ldirectord"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n{RECORDER}")
    script.chmod(0o755)
    record = tmp_path / "record"
    child = tmp_path / "child.cf"
    parent = tmp_path / "parent.cf"
    parent.write_text(f'logfile="{tmp_path / "ld.log"}"\ncheckinterval=1\nexecute={child}\n\n'
                      "virtual=10.9.9.9:80\n\treal=127.0.0.1:1 masq\n\tchecktype=off\n")
    # Without --dry-run the parent itself stays off the kernel through the memory table.
    env = dict(os.environ, LDIRECTORD_RUNDIR=str(run), RECORD=str(record),
               LDIRECTORD_IPVS="memory")

    def ld(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    started = ld(*options, str(parent), "start")
    try:
        assert started.returncode == 0, started.stderr
        wait_for(lambda: len(recorded(record)) == 1, "the sub-instance's start")
    finally:
        assert ld(str(parent), "stop").returncode == 0
    assert recorded(record) == [[*passed, str(child), "start"], [*passed, str(child), "stop"]]


@pytest.mark.parametrize(("argv", "options"), [
    (["--dry-run", "web.cf", "start"], ["--dry-run"]),
    (["-d", "--dry-run", "web.cf", "start"], ["--dry-run"]),  # -d is never passed on
    (["-d", "web.cf", "start"], []),
    (["web.cf", "start"], []),
    (["-q", "-p", "no:cacheprovider"], []),  # not our command line at all
])
def test_only_dry_run_is_inherited(argv: list[str], options: list[str]) -> None:
    from ldirectord.runtime.execute import inherited_options

    assert inherited_options(argv) == options
