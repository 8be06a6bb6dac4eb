"""`smtp=` values: the relay as `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal.

`smtp_server` checks the text written in the file and returns its one stored form (an
IPv6 address always in brackets, so that a port is never confused with a group);
`smtp_address` splits that stored form for the mail transport. Host names are not
resolved here: the relay is looked up when a mail is sent, as the original does.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from ldirectord.config.addresses import ambiguous_message
from ldirectord.config.convert import Invalid
from ldirectord.netloc import bracketed

_HOST = re.compile(r"[0-9A-Za-z._+-]+", re.ASCII)  # the original's smtp= characters
_BRACKETED = re.compile(r"\[([^\[\]]*)\](?::(.*))?", re.DOTALL)
_NUMERIC = re.compile(r"[0-9.]+", re.ASCII)
FORMS: Final = "write host, host:port, [IPv6 address] or [IPv6 address]:port"


def _port(value: str, text: str | None) -> str:
    if text is None:
        return ""
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536):
        raise Invalid(f'invalid SMTP server address "{value}": the port must be a number '
                      "1-65535")
    return f":{int(text)}"


def smtp_server(value: str) -> str:
    """The stored form of an `smtp=` value; raises Invalid for anything else."""
    if m := _BRACKETED.fullmatch(value):
        try:
            addr = ipaddress.IPv6Address(m.group(1))
        except ValueError:
            raise Invalid(f'invalid SMTP server address "{value}": {m.group(1)} is not '
                          "an IPv6 address") from None
        return bracketed(str(addr)) + _port(value, m.group(2))
    if value.count(":") > 1:
        # No host name has a colon, so two or more make a bare IPv6 address, never a port.
        try:
            return bracketed(str(ipaddress.IPv6Address(value)))
        except ValueError:
            raise Invalid(f'invalid SMTP server address "{value}": {FORMS}') from None
    host, sep, port = value.partition(":")
    if not _HOST.fullmatch(host):
        raise Invalid(f'invalid SMTP server address "{value}": {FORMS}')
    if (ambiguous := ambiguous_message(host)) is not None:
        raise Invalid(f'invalid SMTP server address "{value}": {ambiguous}')
    if _NUMERIC.fullmatch(host):
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            raise Invalid(f'invalid SMTP server address "{value}": {host} is not an IPv4 '
                          "address") from None
    return host + _port(value, port if sep else None)


def smtp_address(stored: str) -> tuple[str, int | None]:
    """(host, port) of a stored `smtp` value; port None means the default (25)."""
    if stored.startswith("["):
        host, _, rest = stored[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = stored.partition(":")
    return host, int(port) if sep else None
