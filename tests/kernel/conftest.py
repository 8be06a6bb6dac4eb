"""Backends for the contract suite: memory everywhere, netlink and ipvsadm on a real kernel."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ldirectord.ipvs.backend import Backend
from ldirectord.ipvs.netlink import NetlinkBackend
from ldirectord.ipvs.select import BackendKind, open_kind

HAVE_IPVS = Path("/proc/net/ip_vs").exists()
NO_IPVS_REASON = "no IPVS in this kernel (/proc/net/ip_vs is absent): run inside tests/vm/ipvs-vm"


def kernel_param(kind: BackendKind) -> object:
    return pytest.param(kind, id=kind.value, marks=[
        pytest.mark.kernel,
        pytest.mark.skipif(not HAVE_IPVS, reason=NO_IPVS_REASON),
        pytest.mark.skipif(os.geteuid() != 0, reason="changing the IPVS table needs root"),
    ])


BACKENDS = [pytest.param(BackendKind.MEMORY, id="memory"),
            kernel_param(BackendKind.NETLINK), kernel_param(BackendKind.IPVSADM)]


async def flush_kernel_table() -> None:
    """Empty the kernel's table, as `ipvsadm -C` does (over netlink: no process to spawn)."""
    flusher = await NetlinkBackend.open()
    try:
        await flusher.flush()
    finally:
        await flusher.close()


@pytest_asyncio.fixture
async def kernel_table() -> AsyncIterator[None]:
    """An empty kernel table for the test, emptied again afterwards."""
    await flush_kernel_table()
    yield
    await flush_kernel_table()


@pytest_asyncio.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Each test starts with an empty table and leaves the kernel's empty."""
    kind: BackendKind = request.param
    if kind is not BackendKind.MEMORY:
        await flush_kernel_table()
    opened = await open_kind(kind)
    try:
        yield opened
    finally:
        await opened.close()
        if kind is not BackendKind.MEMORY:
            await flush_kernel_table()
