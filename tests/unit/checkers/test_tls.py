"""Session reuse through TlsClient.resuming: kept after a handshake, dropped after a failed one."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
import trustme

from checkers._dialog import connect
from checkers.base import CheckSpec, Target
from checkers.tls import TlsClient, current_client, use_client
from ldirectord.config.model import Service

SPEC = CheckSpec(Service.POPS, negotiatetimeout=5.0)


async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"+OK ready\r\n")
    with contextlib.suppress(OSError):
        await writer.drain()
        await reader.read(100)
    writer.close()


async def _hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()


@pytest.mark.asyncio
async def test_a_failed_handshake_drops_the_session() -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_ctx)
    tls_server = await asyncio.start_server(_greet, "127.0.0.1", 0, ssl=server_ctx)
    port = tls_server.sockets[0].getsockname()[1]
    target = Target("127.0.0.1", port)
    client = TlsClient()
    with use_client(client):
        try:
            for _ in range(2):
                async with connect(target, SPEC, tls=True) as channel:
                    assert await channel.readline() == b"+OK ready\r\n"
        finally:
            tls_server.close()
            await tls_server.wait_closed()
        assert client.session_for(target.host, port) is not None
        # The same port now hangs up before the handshake ends.
        plain = await asyncio.start_server(_hang_up, "127.0.0.1", port)
        try:
            with pytest.raises(OSError):
                async with connect(target, SPEC, tls=True):
                    pass
        finally:
            plain.close()
            await plain.wait_closed()
    assert client.session_for(target.host, port) is None


@pytest.mark.asyncio
async def test_use_client_is_scoped_to_its_block_and_its_tasks() -> None:
    daemon_wide = current_client()
    chosen = TlsClient()
    with use_client(chosen):
        assert current_client() is chosen
        assert await asyncio.create_task(_current()) is chosen
    assert current_client() is daemon_wide
    assert current_client() is daemon_wide  # one process-wide client, made once


async def _current() -> TlsClient:
    return current_client()
