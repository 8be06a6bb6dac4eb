"""A hanging autoreload callback is killed after its bound; later changes are still seen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ldirectord.config.model import Config
from ldirectord.runtime import configwatch
from ldirectord.runtime.configwatch import ConfigWatch
from tests.unit.runtime.fakeclock import FakeClock
from tests.unit.runtime.harness import config


@dataclass
class Owner:
    config: Config
    reloads: list[str] = field(default_factory=list)

    def request_reload(self, reason: str = "signal") -> None:
        self.reloads.append(reason)


def edit(path: Path, text: str, stamp: int) -> None:
    """New content and an mtime of our choosing (no dependence on the clock's resolution)."""
    path.write_text(text)
    os.utime(path, ns=(stamp, stamp))


def read_fifo(path: Path) -> str:
    with open(path) as fh:  # blocks until the callback has written its line
        return fh.read()


def wait_dead(pid: int, timeout: float) -> bool:
    """Whether `pid` ends (or is already gone) within `timeout` seconds (a pidfd wait)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


@pytest.mark.asyncio
async def test_a_hanging_callback_is_killed_and_later_changes_are_still_seen(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ldirectord")
    cf = tmp_path / "ldirectord.cf"
    edit(cf, "autoreload=yes\n", 1_000_000_000)
    started = tmp_path / "started"
    os.mkfifo(started)
    script = tmp_path / "callback.sh"
    # It hangs, and so does the child it started: both must go.
    script.write_text(f"#!/bin/sh\nsleep 1000 &\necho \"$$ $!\" > {started}\nwait\n")
    script.chmod(0o755)
    owner = Owner(config(path=str(cf), autoreload=True, callback=str(script)))
    clock = FakeClock()
    watch = ConfigWatch(clock, owner)
    pids: list[int] = []
    try:
        await watch.poll()  # the baseline
        edit(cf, "autoreload=yes\n# one\n", 2_000_000_000)
        polling = asyncio.create_task(watch.poll())
        pids = [int(p) for p in (await asyncio.wait_for(
            asyncio.to_thread(read_fifo, started), 30)).split()]
        assert owner.reloads == ["autoreload"]
        await clock.advance(configwatch.CALLBACK_TIMEOUT)
        await asyncio.wait_for(polling, 30)
        with pytest.raises(ProcessLookupError):
            os.kill(pids[0], 0)  # killed and reaped: no zombie left behind
        assert await asyncio.to_thread(wait_dead, pids[1], 30)
        assert (f"system({script} {cf}) failed: still running after "
                f"{configwatch.CALLBACK_TIMEOUT:g}s, killed") in caplog.messages

        edit(cf, "autoreload=yes\n# two\n", 3_000_000_000)
        os.unlink(started)
        script.write_text("#!/bin/sh\nexit 0\n")
        await asyncio.wait_for(watch.poll(), 30)
        assert owner.reloads == ["autoreload", "autoreload"]
        assert caplog.messages.count(f"Configuration file '{cf}' has changed on disk") == 2
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
