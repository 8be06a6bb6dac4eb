"""A virtual clock for the runtime's tests: `sleep` waits for `advance`, nothing really sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools


async def settle(rounds: int = 30) -> None:
    """Let every task that can run, run (a chain of ready callbacks is short here)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """Time moves only when the test calls `advance`/`run_until`; sleepers wake in order."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.t + max(0.0, seconds), next(self._seq), fut))
        await fut

    async def run_until(self, when: float) -> None:
        """Advance to `when`, waking each sleeper at its own deadline, in order."""
        while True:
            await settle()
            while self._heap and self._heap[0][2].done():
                heapq.heappop(self._heap)
            if not self._heap or self._heap[0][0] > when:
                self.t = max(self.t, when)
                await settle()
                return
            deadline, _, fut = heapq.heappop(self._heap)
            self.t = max(self.t, deadline)
            fut.set_result(None)

    async def advance(self, seconds: float) -> None:
        await self.run_until(self.t + seconds)
