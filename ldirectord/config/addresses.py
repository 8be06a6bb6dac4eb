"""IPv4 text that inet_aton would read as something else than it seems (SPEC Part A 15).

The resolver library reads `010.0.0.1` as 8.0.0.1 (octal), `0x7f.1` and `127.1` as
127.0.0.1 and `2130706433` as 127.0.0.1. An address in ldirectord.cf must be four decimal
numbers without leading zeros; any of these other forms is an error, never resolved.
"""

from __future__ import annotations

import re
from typing import Final

_PART = r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)"
# Every text inet_aton accepts (1 to 4 parts, each decimal, octal or hex).
_INET_ATON: Final = re.compile(rf"{_PART}(?:\.{_PART}){{0,3}}", re.ASCII)
HOW: Final = "write four decimal numbers 0-255 without leading zeros (a.b.c.d)"


def ambiguous_ipv4(name: str) -> str | None:
    """Why `name` is an inet_aton form other than a plain dotted quad; None if it is not one.

    A plain dotted quad (even one out of range, like 10.0.0.300) and host names are None.
    """
    if not _INET_ATON.fullmatch(name):
        return None
    parts = name.split(".")
    if any(p[:2] in ("0x", "0X") for p in parts):
        return "hexadecimal parts are not IPv4 address notation"
    if len(parts) < 4:
        return f"it has {len(parts)} part{'s' if len(parts) > 1 else ''}; an IPv4 address has four"
    for part in parts:
        if len(part) > 1 and part[0] == "0":
            octal = int(part, 8) if set(part) <= set("01234567") else None
            meaning = f" ({part} is {octal})" if octal is not None else ""
            return f"a part with a leading zero is octal to some programs{meaning}"
    return None


def ambiguous_message(name: str) -> str | None:
    """The error text for an ambiguous `name`, or None."""
    reason = ambiguous_ipv4(name)
    if reason is None:
        return None
    return f'ambiguous IPv4 address "{name}": {reason}; {HOW}'
