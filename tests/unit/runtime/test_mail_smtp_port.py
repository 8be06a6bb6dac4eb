"""`smtp=host:port` and `smtp=[v6]:port`: a mail reaches a relay on that port (not port 25)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from ldirectord.config import parse
from ldirectord.config.model import DaemonState
from ldirectord.engine.events import DestChange, DestEvent, Role
from ldirectord.ipvs.model import DestKey, ServiceKey
from ldirectord.runtime.mail.alerts import MailAlerts
from tests.unit.config.helpers import FakeSystem

WAIT = 10.0  # a bound on waiting for the mail, never a timing assertion


@dataclass
class Relay:
    """A real SMTP server that records the envelopes it accepts."""

    envelopes: list[Envelope] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        async with self.changed:
            self.envelopes.append(envelope)
            self.changed.notify_all()
        return "250 OK"

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(WAIT), self.changed:
            await self.changed.wait_for(lambda: len(self.envelopes) >= count)


@dataclass
class Served:
    relay: Relay
    host: str
    port: int


async def _serve(host: str) -> tuple[Served, asyncio.Server]:
    relay = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTPServer(relay, hostname="relay.test"),
                                      host, 0)
    port = server.sockets[0].getsockname()[1]
    assert port != 25
    return Served(relay, host, port), server


@pytest_asyncio.fixture
async def relay4() -> AsyncIterator[Served]:
    served, server = await _serve("127.0.0.1")
    yield served
    server.close()
    await server.wait_closed()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest_asyncio.fixture
async def relay6() -> AsyncIterator[Served]:
    if not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    served, server = await _serve("::1")
    yield served
    server.close()
    await server.wait_closed()


async def _mail_one(smtp_value: str, served: Served) -> None:
    config = parse("emailalert=ops@example.com\n"
                   f"smtp={smtp_value}\n"
                   "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 masq\n\tservice=http\n",
                   "t.cf", hostname="h", system=FakeSystem())
    v = config.virtuals[0]
    # No smtp_port argument: the port must come from the config.
    alerts = MailAlerts(config)
    event = DestEvent(DestChange.DELETED, Role.REAL, v, ServiceKey(v.protocol, v.address,
                                                                   v.port),
                      DestKey("10.0.0.2", 80), "10.0.0.2:80", 0, None)
    alerts.event(event, DaemonState.RUNNING)
    await served.relay.wait_for(1)
    await alerts.close()
    assert served.relay.envelopes[0].rcpt_tos == ["ops@example.com"]


@pytest.mark.asyncio
async def test_a_mail_reaches_a_relay_on_the_port_of_host_colon_port(relay4: Served) -> None:
    await _mail_one(f"127.0.0.1:{relay4.port}", relay4)


@pytest.mark.asyncio
async def test_a_mail_reaches_a_relay_on_the_port_of_bracketed_ipv6(relay6: Served) -> None:
    await _mail_one(f"[::1]:{relay6.port}", relay6)
