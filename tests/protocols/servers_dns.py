"""A real dnsmasq for the DNS checker tests, and a scripted UDP peer for the failure rows.

dnsmasq answers only from its command line (no upstream, no /etc/hosts, no resolv.conf) on a
free port of 127.0.0.1 and ::1, UDP and TCP. `udp_peer()` is a datagram server whose replies
come from a function of the request (none: a black hole); the RADIUS tests use it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import cast

import pytest

from checkers.base import Target
from tests.protocols.servers_ldap import daemon, free_port_both

ZONE = "lb.test"
WWW = f"www.{ZONE}"  # A 10.1.2.3, AAAA fd00::7 (and the PTRs for both)
WWW_V4 = "10.1.2.3"
WWW_V6 = "fd00::7"
V6ONLY = f"v6only.{ZONE}"  # AAAA fd00::9 only
V6ONLY_V6 = "fd00::9"
ALIAS = f"alias.{ZONE}"  # CNAME www
WILD = "anything.wild.test"  # any name under wild.test is 10.9.8.7
WILD_V4 = "10.9.8.7"
MISSING = f"missing.{ZONE}"  # NXDOMAIN


@dataclass(frozen=True)
class Dnsmasq:
    """Where the test dnsmasq listens (the same port for UDP and TCP)."""

    port: int


@pytest.fixture(scope="session", name="dnsmasq")
def dnsmasq_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    """dnsmasq serving the names above on 127.0.0.1 and ::1."""
    work = tmp_path_factory.mktemp("dnsmasq")
    port = free_port_both()
    argv = [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", f"--port={port}",
        "--listen-address=127.0.0.1", "--listen-address=::1", "--bind-interfaces",
        "--no-resolv", "--no-hosts", "--no-poll", "--user=root", "--group=root",
        "--pid-file=", "--log-facility=-", f"--local=/{ZONE}/",
        f"--host-record={WWW},{WWW_V4},{WWW_V6}", f"--host-record={V6ONLY},{V6ONLY_V6}",
        f"--cname={ALIAS},{WWW}", f"--address=/wild.test/{WILD_V4}",
    ]
    ports = [(host, port, kind) for host in ("127.0.0.1", "::1")
             for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM)]
    with daemon(argv, ports, work / "dnsmasq.log"):
        yield Dnsmasq(port)


Replier = Callable[[bytes], list[bytes]]


class _Peer(asyncio.DatagramProtocol):
    def __init__(self, reply: Replier) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        for out in self.reply(data):
            self.transport.sendto(out, addr)


@contextlib.asynccontextmanager
async def udp_peer(reply: Replier, host: str = "127.0.0.1") -> AsyncIterator[Target]:
    """A UDP server on an ephemeral port of `host` answering each datagram with `reply(it)`."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Peer(reply),
                                                       local_addr=(host, 0))
    try:
        yield Target(host, transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


def silent(_: bytes) -> list[bytes]:
    """A black hole: read every datagram, answer none."""
    return []
