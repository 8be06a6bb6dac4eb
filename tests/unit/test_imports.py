"""Every module of the packages imports on its own, first, in a fresh interpreter.

A circular import shows only when a cycle's modules are entered in a certain order (the
kernel tests, which import `ldirectord.ipvs.backend` first, met one that the host tests,
which import the config first, never did), so each module is imported first once.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import checkers
import ldirectord

TOP = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("ldirectord", "checkers")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ":\\n" + traceback.format_exc(limit=-3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules() -> list[str]:
    names = []
    for package in (ldirectord, checkers):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__,
                                                        package.__name__ + ".")]
    return names


def test_the_module_list_is_not_empty() -> None:
    names = _modules()
    assert "ldirectord.ipvs.backend" in names and "checkers.http" in names


def test_every_module_imports_first_without_a_cycle() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, *_modules()], cwd=TOP,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
