"""Fixtures for the end-to-end tests: one lab of real servers for the session, a clean table.

The lab (tests/lab) has two real-server hosts, rs1 (10.0.1.11) and rs2 (10.0.1.12), each
running nginx on :80 and proftpd on :21. Every test starts and ends with all four servers
up, nothing black-holed and an empty IPVS table. The whole folder is skipped, with the
reason, where the kernel has no IPVS (run it inside tests/vm/ipvs-vm) or without root.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.lab import Host, Kind, Lab, LabError

HAVE_IPVS = Path("/proc/net/ip_vs").exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if not HAVE_IPVS:
            item.add_marker(pytest.mark.skip(
                reason="no IPVS in this kernel (/proc/net/ip_vs is absent): "
                       "run inside tests/vm/ipvs-vm"))
        elif os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="the e2e lab needs root"))


class Reals:
    """The lab's two hosts, and a way to put every server back as the tests expect it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.rs1 = lab.add_host("rs1")
        self.rs2 = lab.add_host("rs2")
        self.blackholed: set[str] = set()
        self.heal()

    def hosts(self) -> tuple[Host, Host]:
        return self.rs1, self.rs2

    def stop(self, host: Host, kind: Kind) -> None:
        self.lab.stop(host, kind)

    def start(self, host: Host, kind: Kind) -> None:
        self.lab.start(host, kind)

    def blackhole(self, host: Host) -> None:
        self.lab.blackhole(host)
        self.blackholed.add(host.name)

    def unblackhole(self, host: Host) -> None:
        self.lab.unblackhole(host)
        self.blackholed.discard(host.name)

    def heal(self) -> None:
        for host in self.hosts():
            if host.name in self.blackholed:
                with contextlib.suppress(LabError):
                    self.unblackhole(host)
            for kind in (Kind.HTTP, Kind.FTP):
                if not self.lab.running(host, kind):
                    self.lab.stop(host, kind)  # forget a server that died
                    self.lab.start(host, kind)


@pytest.fixture(scope="session")
def reals() -> Iterator[Reals]:
    with Lab() as lab:
        yield Reals(lab)


@pytest.fixture
def lab(reals: Reals) -> Iterator[Reals]:
    """The session's lab, healthy, with an empty IPVS table; healed again afterwards."""
    reals.heal()
    harness.flush()
    try:
        yield reals
    finally:
        reals.heal()
        harness.flush()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The daemon's environment: its pid files go to a private directory."""
    rundir = tmp_path / "run"
    rundir.mkdir()
    return harness.daemon_env(rundir)
