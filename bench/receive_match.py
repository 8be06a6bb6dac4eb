"""What matching `receive` in a worker thread costs against matching it on the event loop.

Prints CPU and wall time per match of a benign pattern on a small page: inline (as the
checks did before matches were bounded), inline with a regex timeout (for reference),
through checkers.match one at a time, and through it with many checks at once (as the
daemon matches under load). Prints figures; it is not a
test. Run from the repository:

    .venv/bin/python bench/receive_match.py [--matches 20000] [--concurrency 50]

CPU is this process's (time.process_time: every thread, user + system). Each row is the
best of `--rounds`: other load on the machine only ever adds time.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from checkers.match import search
from ldirectord.config.perlre import compile_perl_regex

PAGE = b"<html><body>ok page: ldirectord-test-OK</body></html>\n"
PATTERN = compile_perl_regex("ldirectord-test-OK")


def _inline(n: int) -> None:
    for _ in range(n):
        assert PATTERN.search(PAGE) is not None


def _inline_bounded(n: int) -> None:
    # What a search given a timeout costs by itself (the worker's searches all have one).
    for _ in range(n):
        assert PATTERN.search(PAGE, timeout=5.0) is not None


async def _hop(n: int) -> None:
    loop = asyncio.get_running_loop()
    for _ in range(n):
        assert await search(PATTERN, PAGE, loop.time() + 5.0, 5.0)


async def _concurrent(n: int, concurrency: int) -> None:
    await asyncio.gather(*(_hop(n // concurrency) for _ in range(concurrency)))


def _measure(run: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def _best(rounds: int, run: Callable[[], object]) -> tuple[float, float]:
    results = [_measure(run) for _ in range(rounds)]
    return min(r[0] for r in results), min(r[1] for r in results)


def _in_loop(make: Callable[[], Awaitable[None]]) -> Callable[[], object]:
    return lambda: asyncio.run(make())  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.matches
    asyncio.run(_hop(100))  # start the worker threads outside the measurement
    rows = [
        ("inline, on the event loop", _best(args.rounds, lambda: _inline(n))),
        ("ref: inline with a timeout", _best(args.rounds, lambda: _inline_bounded(n))),
        ("worker thread, one at a time", _best(args.rounds, _in_loop(lambda: _hop(n)))),
        (f"worker thread, {args.concurrency} at once",
         _best(args.rounds, _in_loop(lambda: _concurrent(n, args.concurrency)))),
    ]
    print(f"{n} matches of a benign pattern on a {len(PAGE)}-byte page (best of "
          f"{args.rounds})")
    print(f"{'':32} {'CPU us/match':>13} {'wall us/match':>14}")
    for name, (cpu, wall) in rows:
        print(f"{name:32} {cpu / n * 1e6:13.1f} {wall / n * 1e6:14.1f}")
    inline_cpu = rows[0][1][0]
    for name, (cpu, _) in rows[2:]:
        print(f"extra CPU per check, {name}: {(cpu - inline_cpu) / n * 1e6:.1f} us")


if __name__ == "__main__":
    main()
