"""The scripted peers themselves behave as their names say."""

from __future__ import annotations

import asyncio
import time

import pytest

from checkers.base import CheckSpec, Result, Target
from ldirectord.config.model import Service
from tests.protocols.faults import (
    BLACKHOLE,
    Close,
    RecvLine,
    Reset,
    Send,
    bounded_check,
    no_leaks,
    refused_target,
    scripted_server,
)


@pytest.mark.asyncio
async def test_send_then_close() -> None:
    async with scripted_server([Send(b"hello\r\n"), Close()]) as t:
        r, w = await asyncio.open_connection(t.host, t.port)
        assert await r.read() == b"hello\r\n"
        w.close()


@pytest.mark.asyncio
async def test_reset_after_line() -> None:
    async with scripted_server([Send(b"220 hi\r\n"), RecvLine(), Reset()]) as t:
        r, w = await asyncio.open_connection(t.host, t.port)
        assert await r.readline() == b"220 hi\r\n"
        w.write(b"EHLO x\r\n")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(), 5)
        w.close()


@pytest.mark.asyncio
async def test_blackhole_sends_nothing() -> None:
    async with scripted_server(BLACKHOLE) as t:
        r, w = await asyncio.open_connection(t.host, t.port)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(r.read(1), 0.2)
        w.close()


@pytest.mark.asyncio
async def test_refused() -> None:
    t = refused_target()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(t.host, t.port)


@pytest.mark.asyncio
async def test_no_leaks_catches_an_open_socket() -> None:
    async with scripted_server([Send(b"x"), Close()]) as t:
        with pytest.raises(AssertionError, match="leaked sockets"):
            async with no_leaks(settle=0.2):
                _r, w = await asyncio.open_connection(t.host, t.port)
        w.close()
        await w.wait_closed()
        async with no_leaks():
            _r, w = await asyncio.open_connection(t.host, t.port)
            w.close()
            await w.wait_closed()


@pytest.mark.asyncio
async def test_the_load_allowance_does_not_excuse_a_check_that_holds_the_loop() -> None:
    # Time on a CPU is the check's own doing, however loaded the machine: a check that
    # computes past its time bound fails it (only the wait for a CPU is allowed for).
    async def computes(target: Target, spec: CheckSpec) -> Result:
        end = time.thread_time() + 1.0
        while time.thread_time() < end:
            pass
        return Result(False, "computed", 0.0)

    spec = CheckSpec(Service.NONE, negotiatetimeout=0.2)
    with pytest.raises(AssertionError, match="detail='computed'"):
        await bounded_check(computes, refused_target(), spec)
