"""Our own errors never change what serves traffic (SPEC Part A §14): reload and exit faults."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from ldirectord.config import load
from ldirectord.config.model import Config
from ldirectord.ipvs.memory import MemoryBackend
from ldirectord.ipvs.model import Op, Table
from ldirectord.runtime.configload import load_file
from tests.unit.runtime.harness import Harness, config, virtual

DEL_2 = "Deleted real server: 10.0.0.2:80 (10.0.0.1:80)"
INTERNAL = "Internal error, stopping: KeyError: 'controller bug'; leaving the IPVS table as it is"


class LoaderBug(ValueError):
    pass


class LocatedBug(ValueError):
    """An exception that says where in the file it happened (as SyntaxError does)."""

    def __init__(self, message: str, filename: str, lineno: int) -> None:
        super().__init__(message)
        self.filename = filename
        self.lineno = lineno


@pytest.mark.asyncio
async def test_an_unexpected_exception_while_loading_is_a_failed_reload(
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(virtual("10.0.0.2", "10.0.0.3"))
    good = config(virtual("10.0.0.2", "10.0.0.3", "10.0.0.4"))
    answers: list[Config | Exception] = [LoaderBug("bad value in the parser"), good]

    def loader(path: str) -> Config:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    h = Harness(cfg, caplog, loader=loader)
    await h.start()
    await h.clock.advance(0)
    before = await h.backend.read()
    h.take_lines()

    h.sup.request_reload("signal")
    await h.clock.advance(0)
    lines = h.take_lines()
    assert lines[0] == "Reloading Linux Director Daemon config on signal"
    assert lines[1:] == [f"Error [{os.getpid()}]: can not load file {cfg.path}: internal "
                         "error (LoaderBug: bad value in the parser); the running "
                         "configuration is kept"]
    assert h.task is not None and not h.task.done()
    assert h.sup.config is cfg
    assert await h.backend.read() == before
    # Health and checks carry on as before: a failure still takes the real out.
    h.script.up["10.0.0.2"] = False
    await h.clock.advance(5)
    assert h.take_lines() == [DEL_2]
    # And the next good reload works.
    h.script.up["10.0.0.2"] = True
    h.sup.request_reload("signal")
    await h.clock.advance(5)
    assert h.sup.config is good
    assert await h.table() == {"10.0.0.3:80": 1, "10.0.0.2:80": 1, "10.0.0.4:80": 1}
    assert await h.stop() == 0


@pytest.mark.asyncio
async def test_a_failed_reload_names_file_and_line_when_the_exception_does(
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(virtual("10.0.0.2"))

    def loader(path: str) -> Config:
        raise LocatedBug("odd token", path, 14)

    h = Harness(cfg, caplog, loader=loader)
    await h.start()
    await h.clock.advance(0)
    h.take_lines()
    h.sup.request_reload("autoreload")
    await h.clock.advance(0)
    assert h.take_lines() == [
        f"Error [{os.getpid()}] reading file {cfg.path} at line 14: internal error "
        "(LocatedBug: odd token); the running configuration is kept"]
    assert h.sup.config is cfg
    assert await h.stop() == 0


@pytest.mark.asyncio
async def test_a_reload_of_a_real_file_the_parser_chokes_on_keeps_the_old_config(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    cf = tmp_path / "ldirectord.cf"
    cf.write_text("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\treal=10.0.0.3:80 gate\n"
                  "\tchecktype=negotiate\n\tservice=http\n\trequest=\"/\"\n\treceive=\"ok\"\n")
    cfg = load(str(cf))
    h = Harness(cfg, caplog)
    parsed = asyncio.Event()

    async def real_loader(path: str) -> Config:  # the daemon's own, parsing in a thread
        try:
            return await load_file(path)
        finally:
            parsed.set()

    h.sup._loader = real_loader
    await h.start()
    await h.clock.advance(0)
    before = await h.backend.read()
    assert await h.table() == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    h.take_lines()
    # A leading zero in the fixed part of a range.
    cf.write_text("virtual=10.0.0.1:80\n\treal=010.0.0.[1-2]:80 gate\n"
                  "\tchecktype=negotiate\n\tservice=http\n")
    h.sup.request_reload("signal")
    await asyncio.wait_for(parsed.wait(), 10)
    await h.clock.advance(0)
    lines = h.take_lines()
    assert lines[0] == "Reloading Linux Director Daemon config on signal"
    assert lines[1:] and all(line.startswith(f"Error [{os.getpid()}]") for line in lines[1:])
    assert str(cf) in lines[1]
    assert h.task is not None and not h.task.done()
    assert h.sup.config is cfg
    assert await h.backend.read() == before
    assert await h.stop() == 0


class ReadBug(MemoryBackend):
    """A memory table whose `read` raises a bug of ours (not an IPVSError) at the n-th call."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.reads = 0
        self.fail_at = fail_at
        self.applied: list[Op] = []

    async def read(self) -> Table:
        self.reads += 1
        if self.fail_at is not None and self.reads >= self.fail_at:
            raise KeyError("controller bug")
        return await super().read()

    async def apply(self, ops: Sequence[Op]) -> None:
        self.applied.extend(ops)
        await super().apply(ops)


@pytest.mark.asyncio
@pytest.mark.parametrize("cleanstop", [True, False])
async def test_an_internal_error_exits_1_and_leaves_the_table_as_it_is(
        caplog: pytest.LogCaptureFixture, cleanstop: bool) -> None:
    cfg = config(virtual("10.0.0.2", "10.0.0.3", cleanstop=cleanstop))
    h = Harness(cfg, caplog)
    backend = ReadBug()
    h.backend = backend
    h.sup.controller.backend = backend
    await h.start()
    await h.clock.advance(0)
    before = backend.table
    assert await h.table() == {"10.0.0.2:80": 1, "10.0.0.3:80": 1}
    backend.fail_at = backend.reads + 1
    writes = len(backend.applied)
    h.take_lines()
    h.script.up["10.0.0.2"] = False  # the next result makes the controller read: the bug
    await h.clock.advance(5)
    assert h.task is not None
    assert await h.task == 1
    assert backend.table == before
    assert len(backend.applied) == writes  # no cleanstop, no removal of any kind
    lines = h.take_lines()
    assert lines == [INTERNAL]


@pytest.mark.asyncio
async def test_an_internal_error_at_start_leaves_the_table_as_it_is(
        caplog: pytest.LogCaptureFixture) -> None:
    from ldirectord.ipvs.model import AddService, ServiceAttrs
    from tests.unit.runtime.harness import KEY

    h = Harness(config(virtual("10.0.0.2", cleanstop=True)), caplog)
    backend = ReadBug(fail_at=1)
    await MemoryBackend.apply(backend, [AddService(KEY, ServiceAttrs("wrr"))])
    h.backend = backend
    h.sup.controller.backend = backend
    before = backend.table
    await h.start()
    assert h.task is not None
    assert await h.task == 1
    assert not h.ready
    assert backend.table == before
    assert h.take_lines() == [INTERNAL]
