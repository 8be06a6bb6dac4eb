"""pops: the TLS session of a check is kept, and offered to the next check of the same server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import replace

import pytest
import trustme

from checkers._dialog import check_dialog, connect
from checkers.base import CheckSpec, Target
from checkers.pop import pop_dialog
from checkers.tls import TlsClient, use_client
from ldirectord.config.model import Service
from tests.protocols.faults import (
    REAL_SERVER_TIMEOUT,
    no_leaks,
)
from tests.protocols.servers_mail import (
    TEST_PASSWORD,
    TEST_USER,
    Dovecot,
    dovecot,
)

__all__ = ["dovecot"]  # the fixture, imported for the tests below

HOSTS = ["127.0.0.1", "::1"]
TIMEOUT = 1.0
ANON = CheckSpec(Service.POP, negotiatetimeout=TIMEOUT)
# A real dovecot answers them: its time is not what is tested, and a loaded machine is slow.
USER = replace(ANON, login=TEST_USER, passwd=TEST_PASSWORD,
               negotiatetimeout=REAL_SERVER_TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_pops_session_is_kept_and_reused(dovecot: Dovecot, host: str) -> None:
    client = TlsClient()
    target = Target(host, dovecot.pop3s)
    for _ in range(2):
        async with no_leaks():
            with use_client(client):
                result = await check_dialog(target, USER, pop_dialog(TEST_USER, TEST_PASSWORD),
                                            name="POPS", tls=True)
        assert result.ok, result
        assert client.session_for(host, dovecot.pop3s) is not None


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
async def test_tls_session_is_resumed_where_the_server_allows(host: str) -> None:
    # dovecot starts a login process per connection, so it cannot resume sessions; a TLS
    # server that keeps its ticket key (here Python's own) shows that checks resume them.
    cert = trustme.CA().issue_cert("pop.ldirectord.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK ready\r\n")
        with contextlib.suppress(OSError):
            await writer.drain()
            await reader.read(100)
        writer.close()

    server = await asyncio.start_server(serve, host, 0, ssl=server_ctx)
    target = Target(host, server.sockets[0].getsockname()[1])
    reused = []
    try:
        with use_client(TlsClient()):  # a fresh session cache: the first check resumes nothing
            for _ in range(3):
                async with no_leaks(), connect(target, ANON, tls=True) as channel:
                    assert await channel.readline() == b"+OK ready\r\n"
                    reused.append(channel.writer.get_extra_info("ssl_object").session_reused)
    finally:
        server.close()
        await server.wait_closed()
    assert reused == [False, True, True]
