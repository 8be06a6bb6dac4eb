"""`ldirectord --ipvs-dump` and `format_table` print exactly what `ipvsadm -Ln` prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from ldirectord.cli.ipvs_dump import version_line
from ldirectord.ipvs.listing import format_table
from ldirectord.ipvs.memory import apply_ops
from ldirectord.ipvs.netlink import NetlinkBackend
from tests.kernel.conftest import HAVE_IPVS, NO_IPVS_REASON
from tests.kernel.entries import ALL_OPS

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not HAVE_IPVS, reason=NO_IPVS_REASON)]

LDIRECTORD = Path(sys.executable).with_name("ldirectord")


def ipvsadm_ln() -> str:
    ipvsadm = shutil.which("ipvsadm")
    assert ipvsadm is not None, "ipvsadm must be installed (tests/deps/apt-ipvs.txt)"
    return subprocess.run([ipvsadm, "-Ln"], check=True, capture_output=True, text=True).stdout


def ipvs_dump(backend: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LDIRECTORD_IPVS"}
    if backend is not None:
        env["LDIRECTORD_IPVS"] = backend
    return subprocess.run([str(LDIRECTORD), "--ipvs-dump"], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest_asyncio.fixture
async def full_table(kernel_table: None) -> None:
    backend = await NetlinkBackend.open()
    try:
        await backend.apply(ALL_OPS)
    finally:
        await backend.close()


@pytest.mark.asyncio
@pytest.mark.usefixtures("full_table")
@pytest.mark.parametrize("backend", [None, "ipvsadm"], ids=["default", "ipvsadm"])
async def test_ipvs_dump_prints_what_ipvsadm_prints(backend: str | None) -> None:
    assert LDIRECTORD.exists(), "the console script is installed with the project"
    expected = ipvsadm_ln()
    assert expected.count("\n") > 30  # every kind of entry is in the table
    done = ipvs_dump(backend)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == expected


@pytest.mark.asyncio
@pytest.mark.usefixtures("full_table")
async def test_format_table_of_the_memory_table_equals_ipvsadm() -> None:
    assert format_table(apply_ops({}, ALL_OPS), version_line()) == ipvsadm_ln()


@pytest.mark.asyncio
@pytest.mark.usefixtures("kernel_table")
async def test_ipvs_dump_of_an_empty_table() -> None:
    done = ipvs_dump(None)
    assert (done.returncode, done.stdout) == (0, ipvsadm_ln())


NOT_ROOT = """
import asyncio, sys
from ldirectord.errors import PermissionDenied
from ldirectord.ipvs.select import open_kind, BackendKind
async def main(kind):
    try:
        backend = await open_kind(BackendKind(kind))  # ipvsadm refuses here already
        try:
            await backend.read()
        finally:
            await backend.close()
    except PermissionDenied as exc:
        print("PermissionDenied", exc)
asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.parametrize("kind", ["netlink", "ipvsadm"])
def test_without_root_reading_is_permission_denied(kind: str) -> None:
    setpriv = shutil.which("setpriv")
    assert setpriv is not None
    done = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         sys.executable, "-c", NOT_ROOT, kind],
        capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("PermissionDenied"), (done.stdout, done.stderr)
