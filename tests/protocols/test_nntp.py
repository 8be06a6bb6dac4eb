"""nntp checker against leafnode (real server) and scripted misbehaving peers."""

from __future__ import annotations

import pytest

from checkers.base import CheckSpec, Target
from checkers.nntp import check_nntp
from ldirectord.config.model import Service
from tests.protocols.faults import (
    REAL_SERVER_TIMEOUT,
    bounded_check,
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
