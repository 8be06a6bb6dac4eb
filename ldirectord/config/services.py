"""What the config knows of services: the port each is guessed from, and the refused ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ldirectord.config.model import Service

#: SPEC 2.6: the service the original guesses from the virtual's (resolved) port.
PORT_SERVICES: Final[Mapping[int, Service]] = {
    21: Service.FTP,
    25: Service.SMTP,
    53: Service.DNS,
    80: Service.HTTP,
    110: Service.POP,
    119: Service.NNTP,
    143: Service.IMAP,
    389: Service.LDAP,
    443: Service.HTTPS,
    587: Service.SUBMISSION,
    636: Service.LDAPS,
    993: Service.IMAPS,
    995: Service.POPS,
    1521: Service.ORACLE,
    1812: Service.RADIUS,
    3128: Service.HTTP_PROXY,
    3306: Service.MYSQL,
    5060: Service.SIP,
    5432: Service.PGSQL,
}

#: The port probed when the real's port is 0 and there is no checkport.
DEFAULT_PORTS: Final[Mapping[Service, int]] = {s: p for p, s in PORT_SERVICES.items()}


def guess_service(port: int) -> Service:
    """The service the original assumes for a virtual on `port` (NONE if unknown)."""
    return PORT_SERVICES.get(port, Service.NONE)


#: Services a config may not use, with the error text the config loader reports.
REFUSED: Final[Mapping[Service, str]] = {
    Service.ORACLE: "unsupported service: oracle (no maintained asyncio Oracle client is bundled)",
}
