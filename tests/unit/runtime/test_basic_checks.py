"""connect, ping and external checks against real local sockets and real programs."""

from __future__ import annotations

import asyncio
import socket
import stat
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from checkers.base import CheckSpec, Result, Target
from checkers.connect import check_connect
from checkers.external import check_external, external_args
from checkers.ping import check_ping, checksum, echo_request, parse_reply
from ldirectord.config.model import IpvsProtocol, Service
from tests.protocols import faults

SPEC = CheckSpec(Service.NONE, checktimeout=1.0)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_connect_up(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = await asyncio.start_server(lambda r, w: w.close(), host, 0, family=family)
    port = server.sockets[0].getsockname()[1]
    try:
        async with faults.no_leaks():
            result = await check_connect(Target(host, port), SPEC)
        assert result.ok, result.detail
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_connect_refused() -> None:
    target = faults.refused_target()
    async with faults.no_leaks():
        result = await check_connect(target, SPEC)
    assert not result.ok
    assert "refused" in result.detail


@pytest.mark.asyncio
async def test_connect_timeout_ends_the_check() -> None:
    # A listening socket with a full backlog and no accept: SYNs go unanswered on Linux,
    # and the kernel would give up only after minutes of retries ("connection timed out").
    # The detail says the check's own deadline ended it; no wall-clock bound, which a
    # loaded machine could miss.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    fillers = []
    port = lsock.getsockname()[1]
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    try:
        result = await check_connect(Target("127.0.0.1", port),
                                     CheckSpec(Service.NONE, checktimeout=0.5))
        if result.ok:
            pytest.skip("this kernel accepts past the backlog; no black hole to test")
        assert result.detail == f"timeout after 0.5s connecting to 127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        lsock.close()


def test_echo_request_checksum_is_valid() -> None:
    packet = echo_request(socket.AF_INET, 0x1234, 7)
    assert checksum(packet) == 0
    assert parse_reply(socket.AF_INET, packet, raw=False) == (8, 0x1234, 7)
    # A raw IPv4 socket hands over the IP header too: 20 bytes here.
    header = bytes([0x45]) + bytes(19)
    assert parse_reply(socket.AF_INET, header + packet, raw=True) == (8, 0x1234, 7)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_ping_loopback(host: str) -> None:
    result = await check_ping(Target(host, 0), replace(SPEC, checkcount=2))
    if not result.ok and "cannot open" in result.detail:
        pytest.skip(f"no ICMP socket here: {result.detail}")
    assert result.ok, result.detail


@pytest.mark.asyncio
async def test_connect_for_udp_virtual_pings() -> None:
    spec = CheckSpec(Service.NONE, protocol=IpvsProtocol.UDP, checktimeout=1.0)
    # Port 1 on loopback is closed: a TCP connect would fail, a ping succeeds.
    result = await check_connect(Target("127.0.0.1", 1), spec)
    if not result.ok and "cannot open" in result.detail:
        pytest.skip(f"no ICMP socket here: {result.detail}")
    assert result.ok
    assert "echo reply" in result.detail


def test_external_args() -> None:
    assert external_args("10.0.0.6", 80, None, "127.0.0.1", 18080) == (
        "10.0.0.6", "80", "127.0.0.1", "18080")
    assert external_args("2001:db8::1", 443, None, "2001:db8::2", 0) == (
        "[2001:db8::1]", "443", "[2001:db8::2]", "0")
    assert external_args(None, 0, 7, "10.0.0.2", 80) == ("7", "0", "10.0.0.2", "80")


async def external(command: str, args: Sequence[str], limit: float) -> Result:
    """Run the external check as the daemon does: everything it needs is in the spec."""
    spec = CheckSpec(Service.NONE, checktimeout=limit, checkcommand=command,
                     commandargs=tuple(args))
    return await check_external(Target("10.0.0.2", 8080), spec)


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "check.sh"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.asyncio
async def test_external_gets_its_four_args_and_exit_0_is_up(tmp_path: Path) -> None:
    out = tmp_path / "args"
    cmd = _script(tmp_path, f'printf "%s|" "$@" > {out}; exit 0')
    result = await external(cmd, ("[::1]", "80", "10.0.0.2", "8080"), 2.0)
    assert result.ok
    assert out.read_text() == "[::1]|80|10.0.0.2|8080|"


@pytest.mark.asyncio
@pytest.mark.parametrize(("body", "detail"), [
    ("exit 3", "exit 3"),
    ("kill -TERM $$", "killed by signal SIGTERM"),
    ("kill -KILL $$", "killed by signal SIGKILL"),
])
async def test_external_failures(tmp_path: Path, body: str, detail: str) -> None:
    result = await external(_script(tmp_path, body), (), 2.0)
    assert not result.ok
    assert result.detail == detail


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.asyncio
async def test_external_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidf = tmp_path / "child.pid"
    # The command and its child never end by themselves: only the check's deadline ends
    # them (no wall-clock bound, which a loaded machine could miss).
    cmd = _script(tmp_path, f"sleep infinity & echo $! > {pidf}; wait")
    result = await external(cmd, (), 0.5)
    assert not result.ok
    assert result.detail == "timeout after 0.5s, killed"
    child = int(pidf.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _alive(child):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the check's child survived the timeout")


@pytest.mark.asyncio
async def test_external_missing_command() -> None:
    result = await external("/nonexistent/check", (), 1.0)
    assert not result.ok
    assert "cannot run" in result.detail
