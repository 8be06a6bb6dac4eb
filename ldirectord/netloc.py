"""How an address is written beside a port: IPv6 literals in brackets, as in URLs and logs."""

from __future__ import annotations


def bracketed(host: str) -> str:
    """`host` as written before `:port`: an IPv6 literal in brackets, anything else as is."""
    return f"[{host}]" if ":" in host else host


def netloc(host: str, port: int | str) -> str:
    """`host:port`, with an IPv6 literal host in brackets (`[2001:db8::1]:80`)."""
    return f"{bracketed(host)}:{port}"
