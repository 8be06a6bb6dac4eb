"""nntp checker against leafnode (real server) and scripted misbehaving peers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from checkers.base import CheckSpec, Target
from checkers.nntp import check_nntp
from ldirectord.config.model import Service
from tests.protocols.faults import (
    BLACKHOLE,
    REAL_SERVER_TIMEOUT,
    Close,
    RecvLine,
    Reset,
    Send,
    Stall,
    Step,
    bounded_check,
    garbage,
    misbehaving_check,
    oversized,
    refused_target,
)
from tests.protocols.servers_nntp import Leafnode, leafnode

__all__ = ["leafnode"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
SPEC = CheckSpec(Service.NNTP, negotiatetimeout=1.0)
REAL = CheckSpec(Service.NNTP, negotiatetimeout=REAL_SERVER_TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_leafnode_up(leafnode: Leafnode, host: str) -> None:
    result = await bounded_check(check_nntp, Target(host, leafnode.port), REAL)
    assert result.ok, result
    assert result.detail.startswith("NNTP 200 Leafnode NNTP Daemon"), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_leafnode_refusing_service(leafnode: Leafnode, host: str) -> None:
    result = await bounded_check(check_nntp, Target(host, leafnode.broken_port), REAL)
    assert not result.ok, result
    assert result.detail.startswith("NNTP banner: 503 Leafnode must have"), result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_refused(host: str) -> None:
    result = await bounded_check(check_nntp, refused_target(host), SPEC)
    assert not result.ok and result.detail == "NNTP: connection refused", result


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("steps", "ok", "detail"), [
    (BLACKHOLE, False, "NNTP: timeout after 1s"),
    # A banner sent in pieces, never finished.
    ([Send(b"200 news.example"), Stall()], False, "NNTP: timeout after 1s"),
    ([Reset()], False, "NNTP: connection"),
    ([Close()], False, "NNTP: connection closed by server"),
    ([garbage()], False, "NNTP banner: "),
    ([oversized(b"200 ")], False, "NNTP: reply line longer than"),
    ([Send(b"400 service temporarily unavailable\r\n")], False, "NNTP banner: 400"),
    ([Send(b"201 news.example.test ready (no posting)\r\n"), RecvLine(), Reset()], True,
     "NNTP 201 news.example.test"),
    # The QUIT goes unanswered: the banner decided, and the check stays within its time.
    ([Send(b"200 news.example.test\r\n"), RecvLine(), Stall()], True,
     "NNTP 200 news.example.test"),
], ids=["blackholed", "stalled-mid-banner", "reset", "closed", "garbage-banner",
        "oversized-banner", "400-banner", "reset-after-quit", "quit-unanswered"])
async def test_misbehaving_peer(host: str, steps: Sequence[Step], ok: bool, detail: str) -> None:
    result = await misbehaving_check(check_nntp, steps, host, SPEC)
    assert result.ok is ok, result
    assert result.detail.startswith(detail), result
