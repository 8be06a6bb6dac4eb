"""A minimal HTTP/TCP server for benchmarks: `tcpsink.py PORT` listens on 0.0.0.0:PORT.

Every connection gets `HTTP/1.0 200 OK` with the lab's test page once a request header
ends (or at once if the client closes its side), then is closed. A plain connect check
only needs the accept; a negotiate check finds "Test Page". One process serves every
address its namespace owns (with a `local` route, a whole prefix), so a thousand reals
cost one process. It runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

REPLY = (b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
         b"<html><body>Test Page</body></html>\n")


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(5):
            await reader.readuntil(b"\r\n\r\n")
        writer.write(REPLY)
        await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(_serve_one, "0.0.0.0", port, backlog=4096,
                                        reuse_address=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
