"""Name resolution and file probes the parser needs, behind one small interface.

The parser resolves host names (getaddrinfo, first address of the family), port and
service names (getservbyname) and probes files (log and monitor files must be appendable,
the maintenance directory should exist) at load time, as the original does. Tests and
the fuzzer pass their own `System` so that no lookup leaves the machine.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from typing import Protocol

from ldirectord.config.addresses import ambiguous_ipv4
from ldirectord.config.model import IpvsProtocol

_MAX_NAME = 253
_NUMERIC = re.compile(r"[0-9.]+")


class System(Protocol):
    """What the parser asks of the machine."""

    def host(self, name: str, ipv6: bool) -> str | None:
        """The first address of `name` in the family, as a literal; None if none."""

    def service_port(self, name: str, protocol: str | None) -> int | None:
        """The port of service `name` (`/etc/services`) for `protocol`; None if unknown."""

    def appendable(self, path: str) -> str | None:
        """Open `path` for append (creating it) and close it: None, or the error text."""

    def is_dir(self, path: str) -> bool: ...


def literal_address(name: str, ipv6: bool) -> str | None:
    """`name` as a normalised literal of the family, or None if it is not one."""
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return None
    if (addr.version == 6) != ipv6:
        return None
    return str(addr)


class RealSystem:
    """The machine as it is: the resolver library, /etc/services and the file system."""

    def host(self, name: str, ipv6: bool) -> str | None:
        literal = literal_address(name, ipv6)
        if literal is not None:
            return literal
        if not name or len(name) > _MAX_NAME or "\0" in name:
            return None
        if name.rstrip(".").lower().endswith(".invalid") or name.lower() == "invalid":
            return None  # RFC 6761: never resolves, so do not ask a name server
        if ambiguous_ipv4(name) is not None or (not ipv6 and ":" in name):
            # inet_aton's octal/hex/short forms (and, for IPv4, a mapped IPv6 text) would
            # be read as another address: the callers report why (addresses.py).
            return None
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        # Digits and dots are not a host name (no top-level domain is numeric): do not
        # send `10.0.0.300` to a name server.
        flags = socket.AI_NUMERICHOST if _NUMERIC.fullmatch(name) else 0
        try:
            infos = socket.getaddrinfo(name, 0, family, socket.SOCK_STREAM, 0, flags)
        except (OSError, UnicodeError, ValueError):
            return None
        for info in infos:
            addr = info[4][0]
            if isinstance(addr, str):
                return literal_address(addr.split("%", 1)[0], ipv6) or addr
        return None

    def service_port(self, name: str, protocol: str | None) -> int | None:
        if not name or "\0" in name:
            return None
        try:
            if protocol:
                return socket.getservbyname(name, protocol)
            return socket.getservbyname(name)
        except (OSError, UnicodeError, ValueError):
            return None

    def appendable(self, path: str) -> str | None:
        try:
            with open(path, "a"):
                pass
        except OSError as exc:
            return exc.strerror or str(exc)
        except ValueError as exc:
            return str(exc)
        return None

    def is_dir(self, path: str) -> bool:
        try:
            return os.path.isdir(path)
        except (OSError, ValueError):
            return False


def resolve_port(system: System, text: str, protocol: IpvsProtocol | str | None) -> int | None:
    """ld_getservbyname: digits are a port 0..65535, anything else a service name."""
    if text.isascii() and text.isdigit():
        if len(text) > 6:
            return None
        port = int(text)
        return port if 0 <= port < 65536 else None
    proto = protocol.value if isinstance(protocol, IpvsProtocol) else protocol
    return system.service_port(text, proto)
