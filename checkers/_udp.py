"""One request/response exchange over UDP, retransmitted with backoff until a deadline.

The DNS and RADIUS checks both ask one question in one datagram and wait for one answer.
Over UDP a single lost packet must not fail a check, so the same datagram is sent again
after `first_retry` seconds, then after twice that, and so on for `within` seconds. The
socket is connected to the target, so only the target's datagrams arrive, and an ICMP "port
unreachable" surfaces as ConnectionRefusedError instead of a silent wait.

Error handling: raises TimeoutError when nothing acceptable arrived in time and OSError for
socket errors (ConnectionRefusedError above all); `accept` may raise to end the exchange on
a reply that decides the check. Cancellation: the socket is closed on any exit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final, TypeVar

from checkers.base import Target

_T = TypeVar("_T")

#: Datagrams waiting to be judged; more are dropped (a flood must not grow memory).
_QUEUE_SIZE: Final = 16


class _Inbox(asyncio.DatagramProtocol):
    """Queues what the socket receives: datagrams, or the error the kernel reported."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | OSError] = asyncio.Queue(_QUEUE_SIZE)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(exc)


async def exchange(target: Target, payload: bytes, accept: Callable[[bytes], _T | None], *,
                   within: float, first_retry: float = 1.0) -> _T:
    """Send `payload` to `target` (again with backoff) until `accept` takes a reply.

    `accept(datagram)` returns the answer, or None to ignore that datagram and keep waiting.
    """
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(
        _Inbox, remote_addr=(target.host, target.port))
    try:
        async with asyncio.timeout(within):
            interval = first_retry
            while True:
                transport.sendto(payload)
                resend_at = loop.time() + interval
                interval *= 2
                while (left := resend_at - loop.time()) > 0:
                    try:
                        async with asyncio.timeout(left):
                            item = await inbox.queue.get()
                    except TimeoutError:
                        break  # time to send again
                    if isinstance(item, OSError):
                        raise item
                    answer = accept(item)
                    if answer is not None:
                        return answer
    finally:
        transport.close()
