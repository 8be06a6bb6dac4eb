"""The daemon's runtime on the memory backend, a virtual clock and scripted check results."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from ldirectord import logsetup
from ldirectord.config.model import CheckType, DaemonState
from ldirectord.engine import Event, RealGroup
from ldirectord.errors import ConfigError, ConfigMessage, InvalidArgument
from ldirectord.ipvs.model import (
    AddDest,
    DestAttrs,
    DestKey,
    Method,
    Op,
    ServiceAttrs,
    ServiceEntry,
)
from ldirectord.runtime.effects import LoggingAlerts
from ldirectord.runtime.maintenance import Maintenance
from ldirectord.runtime.realprobes import RealProbes
from tests.unit.runtime.fakeclock import settle
from tests.unit.runtime.harness import KEY, Harness, config, virtual

ADD_VS = "Added virtual server: 10.0.0.1:80"
ADD_2 = "Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)"
ADD_3 = "Added real server: 10.0.0.3:80 (10.0.0.1:80) (Weight set to 1)"
DEL_2 = "Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"
DEL_3 = "Deleted real server: 10.0.0.3:80 (10.0.0.1:80)"
RESET_2 = "Resetting soft failure count: 10.0.0.2:80 (tcp:10.0.0.1:80)"
RESET_3 = "Resetting soft failure count: 10.0.0.3:80 (tcp:10.0.0.1:80)"
ADD_FB = "Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)"
DEL_FB = "Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)"


@pytest.mark.asyncio
async def test_start_then_down_removes_then_back_restores(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3")), caplog)
    await h.start()
    assert h.ready
    await h.clock.advance(0)
    assert await h.table() == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    lines = h.take_lines()
    assert lines[0] == ADD_VS
    assert ADD_2 in lines and ADD_3 in lines
    assert ADD_FB not in lines  # Part A §2: no cold-start churn

    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.3:80": 1}
    assert h.take_lines() == [DEL_2]

    h.script.up["10.0.0.2"] = True
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.3:80": 1, "10.0.0.2:80": 1}
    # As the original: the failure that took it out counted, so its return resets it.
    assert h.take_lines() == [RESET_2, ADD_2]
    assert await h.stop() == 0


@pytest.mark.asyncio
async def test_quiescent_sets_weight_zero(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3", quiescent=True)), caplog)
    await h.start()
    await h.clock.advance(0)
    h.take_lines()
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.2:80": 0, "10.0.0.3:80": 1}
    assert h.take_lines() == [
        "Quiescent real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 0)"]
    h.script.up["10.0.0.2"] = True
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    assert h.take_lines() == [
        RESET_2, "Restored real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)"]
    await h.stop()


@pytest.mark.asyncio
async def test_soft_failures_then_down(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3", failurecount=3)), caplog)
    await h.start()
    await h.clock.advance(0)
    h.take_lines()
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(10)
    assert h.take_lines() == [
        "Soft failure real server: 10.0.0.2:80 (tcp:10.0.0.1:80) failure 1/3",
        "Soft failure real server: 10.0.0.2:80 (tcp:10.0.0.1:80) failure 2/3",
    ]
    assert "10.0.0.2:80" in await h.table()
    await h.clock.advance(5)
    assert h.take_lines() == [DEL_2]
    await h.stop()


@pytest.mark.asyncio
async def test_all_down_brings_the_fallback_and_runs_fallbackcommand(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    out = tmp_path / "fallback.log"
    cmd = f"printf '%s %s %s\\n' >>{out}"
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3", fallbackcommand=cmd)), caplog)
    await h.start()
    await h.clock.advance(0)
    h.take_lines()
    h.script.up.update({"10.0.0.2": False, "10.0.0.3": False})
    await h.clock.advance(5)
    assert await h.table() == {"127.0.0.1:80": 1}
    lines = h.take_lines()
    assert set(lines) == {DEL_2, DEL_3, ADD_FB}
    assert lines.index(ADD_FB) > lines.index(DEL_2)
    h.script.up["10.0.0.3"] = True
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.3:80": 1}
    assert set(h.take_lines()) == {RESET_3, ADD_3, DEL_FB}
    await h.stop()
    await h.sup.controller.fallbacks.drain()
    # (The engine may also say `stop` when the first real comes up at start.)
    assert out.read_text().endswith("start 10.0.0.1:80 tcp\nstop 10.0.0.1:80 tcp\n")


@pytest.mark.asyncio
async def test_a_checker_bug_is_a_failed_check_and_the_daemon_lives_on(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3")), caplog)
    await h.start()
    await h.clock.advance(0)
    h.take_lines()
    h.script.raises.add("10.0.0.2")
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.3:80": 1}
    assert any("internal error" in r.getMessage() and "Traceback" in r.getMessage()
               for r in caplog.records)
    assert h.take_lines() == [DEL_2]
    h.script.raises.clear()
    await h.clock.advance(5)
    assert h.take_lines() == [RESET_2, ADD_2]
    assert await h.table() == {"10.0.0.3:80": 1, "10.0.0.2:80": 1}
    assert h.task is not None and not h.task.done()
    await h.stop()


@pytest.mark.asyncio
async def test_a_dead_real_never_delays_another(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3")), caplog)
    h.script.delay["10.0.0.2"] = 30.0  # every check of .2 hangs until its timeout
    h.script.up["10.0.0.2"] = False
    await h.start()
    t0 = h.clock.now()
    await h.clock.advance(31)
    starts = [t - t0 for t, host, _ in h.script.calls if host == "10.0.0.3"]
    assert starts == [0, 5, 10, 15, 20, 25, 30]
    assert await h.table() == {"10.0.0.3:80": 1}
    await h.stop()


@pytest.mark.asyncio
async def test_same_real_in_two_virtuals_is_checked_once_per_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    a = virtual("10.0.0.2")
    b = replace(virtual("10.0.0.2"), address="10.0.0.9")
    h = Harness(config(a, b), caplog)
    await h.start()
    await h.clock.advance(0)
    await h.clock.advance(10)
    assert len([c for c in h.script.calls if c[1] == "10.0.0.2"]) == 3
    h.take_lines()
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    lines = h.take_lines()
    assert DEL_2 in lines
    assert "Deleted real server: 10.0.0.2:80 (10.0.0.9:80)" in lines
    await h.stop()


@pytest.mark.asyncio
async def test_reload_keeps_health_and_writes_nothing_for_unchanged(
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(virtual("10.0.0.2", "10.0.0.3"))
    new = config(virtual("10.0.0.2", "10.0.0.3"), replace(virtual("10.0.0.5"),
                                                           address="10.0.0.9"))
    h = Harness(cfg, caplog, loader=lambda path: new)
    await h.start()
    await h.clock.advance(0)
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    h.take_lines()
    # After the reload the first checks come half an interval later: the health carried
    # over is what the table shows until then.
    h.sup._jitter = lambda interval: interval / 2
    h.sup.request_reload("signal")
    await h.clock.advance(0)
    lines = h.take_lines()
    assert lines[0] == "Reloading Linux Director Daemon config on signal"
    assert "Added virtual server: 10.0.0.9:80" in lines
    assert not [line for line in lines if "10.0.0.1:80" in line]
    assert await h.table() == {"10.0.0.3:80": 1}
    assert h.sup.config is new
    await h.stop()


@pytest.mark.asyncio
async def test_a_broken_reload_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def broken(path: str) -> object:
        raise ConfigError([ConfigMessage(path, 7, "Unknown command foo=bar"),
                           ConfigMessage(path, 9, "invalid check timeout value")])

    cfg = config(virtual("10.0.0.2", "10.0.0.3"))
    h = Harness(cfg, caplog, loader=broken)  # type: ignore[arg-type]
    await h.start()
    await h.clock.advance(0)
    before = await h.backend.read()
    h.take_lines()
    h.sup.request_reload("signal")
    await h.clock.advance(0)
    lines = h.take_lines()
    assert lines[0] == "Reloading Linux Director Daemon config on signal"
    assert any(line.endswith(f"reading file {cfg.path} at line 7: Unknown command foo=bar")
               for line in lines)
    assert any("at line 9: invalid check timeout value" in line for line in lines)
    assert await h.backend.read() == before
    assert h.sup.config is cfg
    # Checks still drive the table.
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    assert h.take_lines() == [DEL_2]
    await h.stop()


@pytest.mark.asyncio
async def test_a_bug_building_the_new_checks_fails_the_reload(
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(virtual("10.0.0.2", "10.0.0.3"))
    new = config(replace(virtual("10.0.0.5"), address="10.0.0.9"))
    h = Harness(cfg, caplog, loader=lambda path: new)
    await h.start()
    await h.clock.advance(0)
    before = await h.backend.read()
    h.take_lines()
    prepare = h.script.prepare

    def buggy(group: RealGroup) -> RealProbes:
        if group.real.host == "10.0.0.5":
            raise RuntimeError("bug while building the probes")
        return prepare(group)

    h.sup._prepare = buggy
    h.sup.request_reload("signal")
    await h.clock.advance(0)
    lines = h.take_lines()
    assert any("bug while building the probes" in line for line in lines), lines
    assert await h.backend.read() == before
    assert h.sup.config is cfg
    # The old config's checks still drive the table.
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    assert h.take_lines() == [DEL_2]
    await h.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize("cleanstop", [True, False])
async def test_stop_with_and_without_cleanstop(caplog: pytest.LogCaptureFixture,
                                               cleanstop: bool) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3", cleanstop=cleanstop)), caplog)
    await h.start()
    await h.clock.advance(0)
    before = await h.backend.read()
    h.take_lines()
    h.sup.request_stop("TERM")
    h.sup.request_stop("TERM")  # a second TERM does not abort the cleanup (Part A §10)
    assert await h.stop() == 0
    lines = h.take_lines()
    assert lines[-1] == "Linux Director Daemon terminated on signal: TERM"
    if cleanstop:
        assert await h.backend.read() == {}
        assert lines[:-1] == [
            "Purged real server (stop): 10.0.0.2:80 (10.0.0.1:80)",
            "Purged real server (stop): 10.0.0.3:80 (10.0.0.1:80)",
            "Purged virtual server (stop): 10.0.0.1:80",
        ]
    else:
        assert await h.backend.read() == before
        assert lines == ["Linux Director Daemon terminated on signal: TERM"]


@pytest.mark.asyncio
async def test_start_keeps_reals_in_service_and_purges_unknown(
        caplog: pytest.LogCaptureFixture) -> None:
    seed = {KEY: ServiceEntry(ServiceAttrs(), {
        DestKey("10.0.0.2", 80): DestAttrs(Method.MASQ, 1),
        DestKey("10.0.0.7", 80): DestAttrs(Method.MASQ, 1),
    })}
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3")), caplog, seed=seed,
                jitter=lambda interval: interval / 2)
    await h.start()
    await settle()
    # Before any check: .2 stays (in service), .7 is purged, .3 waits for its first check.
    assert await h.table() == {"10.0.0.2:80": 1}
    assert h.take_lines() == ["Purged real server (start): 10.0.0.7:80 (10.0.0.1:80)"]
    await h.clock.advance(2.5)
    assert await h.table() == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    assert h.take_lines() == [ADD_3]
    await h.stop()


@pytest.mark.asyncio
async def test_monitor_file_gets_one_line_per_result(caplog: pytest.LogCaptureFixture,
                                                     tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    h = Harness(config(virtual("10.0.0.2", monitorfile=str(monitor))), caplog)
    await h.start()
    await h.clock.advance(0)
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    await h.stop()
    await h.sup.controller.monitors.drain()
    lines = monitor.read_text().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"\[[^]]+\] \[{os.getpid()}\] negotiate http tcp 10\.0\.0\.2 80 .*"
                        r"\[up\] up", lines[0])
    assert lines[1].endswith("[down] HTTP 503")


@pytest.mark.asyncio
async def test_maintenance_forces_down_and_back(caplog: pytest.LogCaptureFixture,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    maint: set[tuple[str, int]] = set()

    async def match(self: Maintenance, host: str, port: int) -> str | None:
        return f"{host}:{port}" if (host, port) in maint else None

    monkeypatch.setattr(Maintenance, "match", match)
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3", failurecount=3),
                       maintenancedir=str(tmp_path)), caplog)
    await h.start()
    await h.clock.advance(0)
    h.take_lines()
    maint.add(("10.0.0.2", 80))
    await h.clock.advance(5)
    # Forced down at once, despite failurecount=3; nothing but the table change is logged.
    assert await h.table() == {"10.0.0.3:80": 1}
    assert h.take_lines() == [DEL_2]
    maint.clear()
    await h.clock.advance(5)
    assert await h.table() == {"10.0.0.3:80": 1, "10.0.0.2:80": 1}
    await h.stop()


@pytest.mark.asyncio
async def test_alerts_receive_the_mailed_events_with_the_daemon_state(
        caplog: pytest.LogCaptureFixture) -> None:
    got: list[tuple[str, str]] = []

    class Recorder(LoggingAlerts):
        def event(self, event: Event, state: DaemonState) -> None:
            assert event.mail_subject is not None
            got.append((event.mail_subject, state.value))

    h = Harness(config(virtual("10.0.0.2", "10.0.0.3")), caplog)
    h.sup.alerts = h.sup.controller.alerts = Recorder()
    await h.start()
    await h.clock.advance(0)
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    await h.stop()
    assert (ADD_2, "starting") in got
    assert (DEL_2, "running") in got
    assert ("Purged real server (stop): 10.0.0.3:80 (10.0.0.1:80)", "stopping") in got
    assert not [s for s, _ in got if "virtual server" in s]  # never mailed


@pytest.mark.asyncio
async def test_maintenance_lookup_in_a_real_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_rdns(self: Maintenance, host: str) -> str | None:
        return "web1.example.com" if host == "10.0.0.4" else None

    monkeypatch.setattr(Maintenance, "reverse_name", no_rdns)
    assert await Maintenance(str(tmp_path)).match("10.0.0.2", 80) is None
    assert await Maintenance(str(tmp_path / "missing")).match("10.0.0.2", 80) is None
    (tmp_path / "10.0.0.2").touch()
    (tmp_path / "[2001:db8::2]:443").touch()
    (tmp_path / "web1").touch()
    m = Maintenance(str(tmp_path))
    assert await m.match("10.0.0.2", 80) == "10.0.0.2"
    assert await m.match("2001:db8::2", 443) == "[2001:db8::2]:443"
    assert await m.match("2001:db8::2", 80) is None
    assert await m.match("10.0.0.4", 80) == "web1"


@pytest.mark.asyncio
async def test_a_controller_bug_exits_1_and_leaves_the_table(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", cleanstop=True)), caplog)
    await h.start()
    await h.clock.advance(0)
    assert await h.table() == {"10.0.0.2:80": 1}
    before = await h.backend.read()

    async def broken(batch: object, **kwargs: object) -> None:
        raise RuntimeError("controller bug")

    h.sup.controller.observe = broken  # type: ignore[method-assign]
    await h.clock.advance(5)
    assert h.task is not None
    assert await h.task == 1
    assert "Internal error, stopping: RuntimeError: controller bug; leaving the IPVS table " \
        "as it is" in h.lines()
    assert await h.backend.read() == before  # no cleanstop (Part A §14)


@pytest.mark.asyncio
async def test_reload_switches_the_log_destination(caplog: pytest.LogCaptureFixture,
                                                   tmp_path: Path) -> None:
    logfile = tmp_path / "new.log"
    cfg = config(virtual("10.0.0.2"))
    new = replace(cfg, logfile=str(logfile))
    h = Harness(cfg, caplog, loader=lambda path: new)
    try:
        await h.start()
        await h.clock.advance(0)
        h.sup.request_reload("signal")
        await h.clock.advance(0)
        h.script.up["10.0.0.2"] = False
        await h.clock.advance(5)
        assert logfile.read_text().endswith(f"|ldirectord|{os.getpid()}] {DEL_2}\n")
        await h.stop()
    finally:
        logsetup.reset()


@pytest.mark.asyncio
async def test_a_refused_write_is_logged_and_repaired_later(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", "10.0.0.3")), caplog)
    real_apply = h.backend.apply
    refusals = [1]

    async def flaky_apply(ops: Sequence[Op]) -> None:
        if refusals and any(isinstance(op, AddDest) and op.dest.address == "10.0.0.3"
                            for op in ops):
            refusals.pop()
            done = [op for op in ops if not isinstance(op, AddDest)
                    or op.dest.address != "10.0.0.3"]
            bad = next(op for op in ops if op not in done)
            await real_apply(ops[:ops.index(bad)])
            raise InvalidArgument("Invalid argument", bad)
        await real_apply(ops)

    h.backend.apply = flaky_apply  # type: ignore[method-assign]
    await h.start()
    await h.clock.advance(0)
    lines = h.take_lines()
    assert ADD_3 not in lines  # its op was refused: no "Added" line for it
    assert any(line.startswith("system(ipvsadm -a -t 10.0.0.1:80") and "failed" in line
               for line in lines)
    assert "10.0.0.3:80" not in await h.table()
    await h.clock.advance(1.0)  # the repair reconcile, before the next check
    assert await h.table() == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    assert h.take_lines() == [ADD_3]
    await h.stop()


@pytest.mark.asyncio
async def test_combined_checks_alternate_negotiate_and_connect(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(config(virtual("10.0.0.2", checktype=CheckType.COMBINED, negotiate_every=2)),
                caplog)
    await h.start()
    await h.clock.advance(0)
    await h.clock.advance(20)
    kinds = [kind for _, host, kind in h.script.calls if host == "10.0.0.2"]
    assert kinds[:5] == ["negotiate", "connect", "connect", "negotiate", "connect"]
    h.script.up["10.0.0.2"] = False
    before = len(h.script.calls)
    await h.clock.advance(10)
    # A failure makes the next check a negotiate, and it stays so while failing.
    after = [kind for _, host, kind in h.script.calls[before:]]
    assert after[1:] == ["negotiate"] * (len(after) - 1)
    await h.stop()


@pytest.mark.asyncio
async def test_loading_a_file_imports_its_checkers_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from checkers import registry
    from checkers.base import Checker
    from ldirectord.runtime.configload import load_file

    importers: list[threading.Thread] = []

    def recording(load: Callable[[], Checker]) -> Callable[[], Checker]:
        def loader() -> Checker:
            importers.append(threading.current_thread())
            return load()
        return loader

    monkeypatch.setattr(registry, "LOADERS",
                        {service: recording(load) for service, load in registry.LOADERS.items()})
    cf = tmp_path / "ldirectord.cf"
    cf.write_text("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 masq\n"
                  "\tchecktype=negotiate\n\tservice=http\n")
    loaded = await load_file(str(cf))
    assert len(loaded.virtuals) == 1
    assert importers, "the loader did not look up the config's checker"
    assert threading.main_thread() not in importers
