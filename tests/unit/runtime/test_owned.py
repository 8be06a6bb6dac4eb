"""Ownership across restarts: the record beside the pid file, and the purge at start.

The daemon runs on the memory table; a restart is a second Supervisor seeded with the
table the first one left, and the record lives in a real run directory in tmp_path.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ldirectord.config.model import Config, IpvsProtocol
from ldirectord.ipvs.model import ServiceAttrs, ServiceEntry, ServiceKey, Table
from ldirectord.runtime.owned import (
    Ownership,
    RecordError,
    format_key,
    format_record,
    parse_key,
    services_path,
)
from tests.unit.runtime.fakeclock import settle
from tests.unit.runtime.harness import Harness, config, virtual

X = ServiceKey(IpvsProtocol.TCP, "10.0.0.1", 80)
Y = ServiceKey(IpvsProtocol.TCP, "10.0.0.2", 80)
HAND = ServiceKey(IpvsProtocol.TCP, "10.0.0.3", 80)  # added by an operator with ipvsadm
OTHER = ServiceKey(IpvsProtocol.UDP, "10.0.0.4", 53)  # the other instance's
LDIRECTORD = str(Path(sys.executable).parent / "ldirectord")


async def until(cond: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Wait (the record is written by a worker thread) until `cond`, with a deadline."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def plant(path: Path, content: bytes) -> None:
    """A record as a crash, a disk error or a stray edit may leave it (or a directory)."""
    if content == b"directory":
        path.mkdir()
    else:
        path.write_bytes(content)


def says(path: str, *keys: ServiceKey) -> Callable[[], bool]:
    def check() -> bool:
        return os.path.exists(path) and Path(path).read_text() == format_record(keys)
    return check


def config_a() -> Config:
    """Services X and Y; cleanstop=no, so a stop leaves them in the kernel."""
    return config(virtual("10.0.1.1", cleanstop=False),
                  virtual("10.0.2.1", address="10.0.0.2", cleanstop=False))


def config_b() -> Config:
    return config(virtual("10.0.1.1", cleanstop=False))


def by_hand() -> Table:
    return {HAND: ServiceEntry(ServiceAttrs(), {}), OTHER: ServiceEntry(ServiceAttrs(), {})}


async def run_once(cfg: Config, caplog: pytest.LogCaptureFixture, seed: Table,
                   ownership: Ownership) -> tuple[Table, list[str]]:
    """Start a daemon on `seed`, let it settle, stop it; the table it leaves, its log."""
    h = Harness(cfg, caplog, seed=seed)
    h.sup.controller.ownership = ownership  # what daemon.serve does
    await h.start()
    await h.clock.advance(1)
    await settle()
    assert await h.stop() == 0
    return await h.backend.read(), h.take_lines()


@pytest.mark.asyncio
async def test_a_service_dropped_while_stopped_is_removed_at_the_next_start(
        caplog: pytest.LogCaptureFixture, rundir: Path) -> None:
    path = services_path("web.cf")
    assert path == str(rundir / "ldirectord.web.cf.services")
    other = Ownership(services_path("other.cf"))  # the second instance's record names OTHER
    await other.record(frozenset({OTHER}))

    table, lines = await run_once(config_a(), caplog, by_hand(), Ownership(path))
    assert set(table) == {X, Y, HAND, OTHER}
    assert says(path, X, Y)()  # kept at stop

    table, lines = await run_once(config_b(), caplog, table, Ownership(path))
    assert set(table) == {X, HAND, OTHER}  # Y removed; the others untouched
    assert "Purged virtual server (start): 10.0.0.2:80" in lines
    assert not [line for line in lines if "10.0.0.3" in line or "10.0.0.4" in line]
    assert says(path, X)()
    assert says(services_path("other.cf"), OTHER)()


@pytest.mark.asyncio
async def test_without_a_record_nothing_outside_the_config_is_removed(
        caplog: pytest.LogCaptureFixture, rundir: Path) -> None:
    seed = {**by_hand(), Y: ServiceEntry(ServiceAttrs(), {})}
    table, lines = await run_once(config_b(), caplog, seed, Ownership(services_path("web.cf")))
    assert set(table) == {X, Y, HAND, OTHER}
    assert not [line for line in lines if "Purged virtual" in line]


@pytest.mark.parametrize("content", [
    b"tcp:10.0.0.2:80\ntcp:10.0.0.999:80\n",  # one bad line spoils the whole record
    b"tcp:10.0.0.2:80\n\xff\xfe\n",
    b"tcp:10.0.0.2:80\ntcp:10.0.0.",  # cut short
    b"\x1b[2Jtcp:10.0.0.2:80\n",
    b"directory",
])
@pytest.mark.asyncio
async def test_a_corrupt_or_unreadable_record_is_logged_and_removes_nothing(
        caplog: pytest.LogCaptureFixture, rundir: Path, content: bytes) -> None:
    path = Path(services_path("web.cf"))
    plant(path, content)
    seed = {**by_hand(), Y: ServiceEntry(ServiceAttrs(), {})}
    table, lines = await run_once(config_b(), caplog, seed, Ownership(str(path)))
    assert set(table) == {X, Y, HAND, OTHER}
    assert not [line for line in lines if "Purged virtual" in line]
    ignoring = [line for line in lines if line.startswith(f"Ignoring {path}: ")]
    assert len(ignoring) == 1
    assert "\x1b" not in ignoring[0]
    if content == b"directory":
        assert [line for line in lines if line.startswith("Could not record the managed")]
    else:
        assert says(str(path), X)()  # the run's own set replaces it


@pytest.mark.asyncio
async def test_a_successful_reload_records_the_new_set(caplog: pytest.LogCaptureFixture,
                                                       rundir: Path) -> None:
    path = services_path("web.cf")
    h = Harness(config_a(), caplog, seed=by_hand(), loader=lambda _path: config_b())
    h.sup.controller.ownership = Ownership(path)
    await h.start()
    await until(lambda: h.ready, "the start")
    assert says(path, X, Y)()
    h.sup.request_reload()
    await until(says(path, X), "the reload's record")
    assert set(await h.backend.read()) == {X, HAND, OTHER}
    assert await h.stop() == 0
    assert says(path, X)()


@pytest.mark.asyncio
async def test_in_memory_ownership_writes_nothing(caplog: pytest.LogCaptureFixture,
                                                  rundir: Path) -> None:
    table, _ = await run_once(config_a(), caplog, by_hand(), Ownership(None))
    table, _ = await run_once(config_b(), caplog, table, Ownership(None))
    assert set(table) == {X, Y, HAND, OTHER}  # a fresh memory record owns nothing old
    assert files(rundir) == []


# -- the daemon's wiring ---------------------------------------------------------------


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LDIRECTORD, *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize(("options", "backend", "written"), [
    (["--dry-run"], "", False),  # a dry run writes nothing outside memory
    ([], "memory", True),
])
def test_a_daemon_keeps_its_record_beside_its_pid_file(
        tmp_path: Path, rundir: Path, options: list[str], backend: str, written: bool) -> None:
    cfg = tmp_path / "web.cf"
    cfg.write_text(f'logfile="{tmp_path / "ld.log"}"\n\n'
                   "virtual=10.9.9.9:80\n\treal=127.0.0.1:1 masq\n\tchecktype=off\n"
                   "virtual6=[2001:db8::9]:53\n\tprotocol=udp\n\treal6=[::1]:53 masq\n"
                   "\tchecktype=off\n")
    env = dict(os.environ, LDIRECTORD_IPVS=backend)
    started = cli(*options, str(cfg), "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
    finally:
        assert cli(str(cfg), "stop", env=env).returncode == 0
    record = rundir / "ldirectord.web.cf.services"
    assert record.exists() is written
    if written:
        assert record.read_text() == format_record([
            ServiceKey(IpvsProtocol.TCP, "10.9.9.9", 80),
            ServiceKey(IpvsProtocol.UDP, "2001:db8::9", 53, None, True)])
    assert files(rundir) == (
        ["ldirectord.web.cf.services"] if written else [])


# -- the record's lines ----------------------------------------------------------------


@pytest.mark.parametrize("key", [
    X, ServiceKey(IpvsProtocol.UDP, "2001:db8::1", 53, None, True),
    ServiceKey(IpvsProtocol.FWM, None, 0, 7),
    ServiceKey(IpvsProtocol.FWM, None, 0, 4294967295, True),
    ServiceKey(IpvsProtocol.TCP, "10.0.0.1", 0),
])
def test_record_lines_round_trip(key: ServiceKey) -> None:
    assert parse_key(format_key(key)) == key


def test_record_lines_read_like_virtual_ids() -> None:
    assert format_key(X) == "tcp:10.0.0.1:80"
    assert format_key(ServiceKey(IpvsProtocol.UDP, "::1", 53, None, True)) == "udp:[::1]:53"
    assert format_key(ServiceKey(IpvsProtocol.FWM, None, 0, 7, True)) == "fwm6:7"


@pytest.mark.parametrize("line", [
    "tcp:10.0.0.1", "tcp:10.0.0.1:65536", "tcp:10.0.0.1:-1", "tcp:010.0.0.1:80",
    "tcp:2001:db8::1:80", "tcp:[10.0.0.1]:80", "sctp:10.0.0.1:80", "fwm:0", "fwm:x",
    "fwm:4294967296", "tcp:10.0.0.1:８０", "",
])
def test_bad_record_lines_are_errors(line: str) -> None:
    with pytest.raises(RecordError):
        parse_key(line)




def test_debug_mode_keeps_its_record_in_memory(tmp_path: Path, rundir: Path) -> None:
    cfg = tmp_path / "web.cf"
    cfg.write_text("virtual=10.9.9.9:80\n\treal=127.0.0.1:1 masq\n\tchecktype=off\n")
    proc = subprocess.Popen([LDIRECTORD, "-d", str(cfg), "start"], stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, LDIRECTORD_IPVS="memory"))
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and not line.startswith("Added virtual server"):
            line = proc.stderr.readline()
            if not line:
                break
        assert line.startswith("Added virtual server"), line
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert files(rundir) == []
