"""The `connect` check: a TCP connect to the real within checktimeout (a ping for UDP virtuals).

This is also the "plain connect" round of combined checks (checktype=N). The original pings
for UDP virtuals (a UDP "connect" proves nothing), and so do we, once (checkcount is ping's).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from checkers.base import CheckSpec, Result, Target, describe_os_error
from checkers.ping import ping
from ldirectord.config.model import IpvsProtocol


async def tcp_connect(target: Target, limit: float) -> Result:
    """Open and close a TCP connection to `target`; never raises for what the peer does."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        async with asyncio.timeout(limit):
            await loop.sock_connect(sock, (target.host, target.port))
    except TimeoutError:
        return Result(False, f"timeout after {limit:g}s connecting to {target.netloc}",
                      loop.time() - started)
    except OSError as exc:
        return Result(False, f"{describe_os_error(exc)} connecting to {target.netloc}",
                      loop.time() - started)
    finally:
        # SO_LINGER 0 would RST; a normal close is what the original's IO::Socket does.
        with contextlib.suppress(OSError):
            sock.close()
    return Result(True, f"connected to {target.netloc}", loop.time() - started)


async def check_connect(target: Target, spec: CheckSpec) -> Result:
    """TCP connect with `spec.checktimeout`; one ICMP ping instead for UDP virtuals."""
    if spec.protocol is IpvsProtocol.UDP:
        return await ping(target, spec.checktimeout, 1)
    return await tcp_connect(target, spec.checktimeout)
