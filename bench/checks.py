"""Checks per CPU-second for connect, http and https (with and without TLS session reuse)
against a local nginx, and keepalived's CPU per HTTP check for comparison where it can run.

Prints figures; it is not a test. Run as root from the repository:

    .venv/bin/python bench/checks.py                       # on the host
    bash tests/vm/ipvs-vm -- .venv/bin/python bench/checks.py --checks 1000   # with keepalived

CPU is this process's CPU time (time.process_time: user + system, so the kernel's share of
every connect counts), divided by the number of checks; nginx's CPU is not counted. The
load is shaped like the daemon's: `--concurrency` tasks, each checking in a loop. keepalived
needs a kernel IPVS table to run its checker at all; where there is none (/proc/net/ip_vs)
its row prints n/a, and the comparison needs the VM (tests/vm/ipvs-vm).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from checkers.base import CheckSpec, Result, Target
from checkers.connect import check_connect
from checkers.http import check_http, check_https
from checkers.tls import TlsClient
from ldirectord.config.model import Service
from tests.protocols.servers_http import Nginx, run_nginx

HOST = "127.0.0.1"
RECEIVE = re.compile(rb"ldirectord-test-OK")


class _NoReuse(TlsClient):
    """A TLS client that never offers a session: every check does a full handshake."""

    def session_for(self, host: str, port: int, *, sni: str | None = None) -> None:
        return None


@dataclass(frozen=True)
class Figure:
    name: str
    checks: int
    failures: int
    cpu: float
    wall: float

    @property
    def per_cpu_second(self) -> float:
        return self.checks / self.cpu if self.cpu else float("inf")

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / self.checks

    def line(self, goal: float | None = None) -> str:
        text = (f"{self.name:<46} {self.per_cpu_second:>8,.0f} checks/CPU-s "
                f"{self.cpu_us:>7.0f} us CPU/check  {self.checks / self.wall:>7,.0f} checks/s wall")
        if self.failures:
            text += f"  ({self.failures} FAILED)"
        if goal is not None:
            text += f"  goal >= {goal:,.0f}: {'met' if self.per_cpu_second >= goal else 'NOT met'}"
        return text


async def measure(name: str, one: Callable[[], Awaitable[bool]], checks: int,
                  concurrency: int) -> Figure:
    """Run `checks` calls of `one` from `concurrency` looping tasks; CPU and wall time."""
    warm = [await one() for _ in range(min(20, checks))]
    assert all(warm), f"{name}: warm-up checks failed"
    left = checks
    failures = 0

    async def worker() -> None:
        nonlocal left, failures
        while left > 0:
            left -= 1
            if not await one():
                failures += 1

    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    return Figure(name, checks, failures, time.process_time() - cpu0,
                  time.perf_counter() - wall0)


def _ok(check: Callable[[Target, CheckSpec], Awaitable[Result]], target: Target,
        spec: CheckSpec) -> Callable[[], Awaitable[bool]]:
    async def one() -> bool:
        return (await check(target, spec)).ok
    return one


async def _reference_rows(n: Nginx, checks: int, concurrency: int) -> list[Figure]:
    """Where the time goes: the same GET without our checker, with fewer layers each time."""
    port = n.http[HOST]
    url = f"http://{HOST}:{port}/ok.html"
    rows = []
    for name, force_close in (("ref: aiohttp shared session, Connection: close", True),
                              ("ref: aiohttp shared session, keep-alive", False)):
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=force_close),
                trust_env=False, auto_decompress=False) as session:
            async def one(session: aiohttp.ClientSession = session) -> bool:
                async with session.get(url) as resp:
                    return resp.status == 200 and RECEIVE.search(await resp.read()) is not None
            rows.append(await measure(name, one, checks, concurrency))

    async def streams() -> bool:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(b"GET /ok.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = await reader.read(1 << 20)
        finally:
            writer.close()
            await writer.wait_closed()
        return reply.startswith(b"HTTP/1.1 200") and RECEIVE.search(reply) is not None
    rows.append(await measure("ref: asyncio streams, hand-written GET", streams, checks,
                              concurrency))
    return rows


async def ours(n: Nginx, checks: int, concurrency: int, references: bool) -> list[Figure]:
    http = CheckSpec(Service.HTTP, request="/ok.html", receive=RECEIVE, negotiatetimeout=5)
    https = CheckSpec(Service.HTTPS, request="/ok.html", receive=RECEIVE, negotiatetimeout=5)
    reuse, fresh = TlsClient(), _NoReuse()

    async def https_reuse(t: Target, s: CheckSpec) -> Result:
        return await check_https(t, s, tls=reuse)

    async def https_fresh(t: Target, s: CheckSpec) -> Result:
        return await check_https(t, s, tls=fresh)

    plan = [
        ("connect", _ok(check_connect, n.target("http", HOST),
                        CheckSpec(Service.NONE, checktimeout=5))),
        ("http (check_http)", _ok(check_http, n.target("http", HOST), http)),
        ("https, session reuse (check_https)", _ok(https_reuse, n.target("https", HOST), https)),
        ("https, full handshakes (check_https)",
         _ok(https_fresh, n.target("https", HOST), https)),
    ]
    rows = [await measure(name, one, checks, concurrency) for name, one in plan]
    if references:
        rows += await _reference_rows(n, checks, concurrency)
    return rows


async def best_of(rounds: int, n: Nginx, checks: int, concurrency: int, references: bool
                  ) -> list[Figure]:
    """Each row's best round (least CPU per check): the machine's other load only adds."""
    best: dict[str, Figure] = {}
    for _ in range(rounds):
        for row in await ours(n, checks, concurrency, references):
            if row.name not in best or row.cpu_us < best[row.name].cpu_us:
                best[row.name] = row
    return list(best.values())


# --- keepalived ---------------------------------------------------------------------------

def _keepalived_conf(ports: tuple[int, ...], delay: float) -> str:
    reals = "\n".join(f"""    real_server {HOST} {p} {{
        weight 1
        HTTP_GET {{
            url {{
                path /ok.html
                status_code 200
            }}
            connect_timeout 5
        }}
    }}""" for p in ports)
    return f"""global_defs {{
    router_id ldirectord_bench
}}
virtual_server 10.255.0.1 80 {{
    delay_loop {delay}
    lb_algo rr
    lb_kind NAT
    protocol TCP
{reals}
}}
"""


def _cpu_of(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds (0 for one that is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / tick


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _count_keepalived_requests(log: Path) -> int:
    with log.open("rb") as f:
        return sum(1 for line in f if b"KeepAliveClient" in line)


def keepalived(n: Nginx, workdir: Path, seconds: float, delay: float) -> Figure | str:
    """keepalived's checker against the same nginx: its CPU per HTTP_GET check."""
    exe = shutil.which("keepalived")
    if exe is None:
        return "n/a (keepalived is not installed: apt-get install keepalived)"
    if not Path("/proc/net/ip_vs").exists():
        return "n/a (no kernel IPVS here; run this inside tests/vm/ipvs-vm)"
    conf = workdir / "keepalived.conf"
    conf.write_text(_keepalived_conf(n.extra, delay))
    with (workdir / "keepalived.log").open("wb") as log:
        proc = subprocess.Popen(
            [exe, "-n", "-l", "-C", "-f", str(conf), "-p", str(workdir / "ka.pid"),
             "-c", str(workdir / "ka-check.pid"), "-r", str(workdir / "ka-vrrp.pid")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while _count_keepalived_requests(n.access_log) < 2 * len(n.extra):  # warmed up
            if proc.poll() is not None or time.monotonic() > deadline:
                return "n/a (keepalived did not check: see " + str(workdir / "keepalived.log") + ")"
            time.sleep(0.1)
        pids = [proc.pid, *_children(proc.pid)]
        cpu0, count0, wall0 = _cpu_of(pids), _count_keepalived_requests(n.access_log), \
            time.perf_counter()
        time.sleep(seconds)  # keepalived works on its own; we only sample before and after
        cpu, count = _cpu_of(pids) - cpu0, _count_keepalived_requests(n.access_log) - count0
        wall = time.perf_counter() - wall0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if count == 0:
        return "n/a (keepalived made no checks in the window)"
    return Figure(f"keepalived HTTP_GET ({len(n.extra)} reals, delay_loop {delay})",
                  count, 0, cpu, wall)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--checks", type=int, default=5000, help="checks per figure")
    ap.add_argument("--concurrency", type=int, default=50, help="checking tasks")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each row's best is shown")
    ap.add_argument("--reals", type=int, default=50, help="keepalived real servers")
    ap.add_argument("--delay", type=float, default=0.2, help="keepalived delay_loop (s)")
    ap.add_argument("--seconds", type=float, default=10, help="keepalived sampling window")
    ap.add_argument("--no-references", action="store_true",
                    help="skip the reference rows (aiohttp and streams without our checker)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ldirectord-bench-") as tmp, \
            run_nginx(Path(tmp), extra_ports=args.reals, access_log=True) as n:
        rows = asyncio.run(best_of(args.rounds, n, args.checks, args.concurrency,
                                   not args.no_references))
        ka = keepalived(n, Path(tmp), args.seconds, args.delay)
        goals = {"http (check_http)": 5000.0, "https, session reuse (check_https)": 1000.0}
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"# best of {args.rounds} rounds of {args.checks} checks per row, "
              f"{args.concurrency} concurrent, against nginx "
              f"on {HOST}; CPU = this process's user+system time; "
              f"{os.cpu_count()} CPUs, load average {' '.join(load)}")
        for row in rows:
            print(row.line(goals.get(row.name)))
        http = next(r for r in rows if r.name == "http (check_http)")
        if isinstance(ka, str):
            print(f"{'keepalived HTTP_GET':<46} {ka}")
            print(f"{'ratio CPU/check ours : keepalived':<46} n/a")
        else:
            print(ka.line())
            ratio = http.cpu_us / ka.cpu_us
            print(f"{'ratio CPU/check ours : keepalived':<46} {ratio:>8.2f}  goal <= 2: "
                  f"{'met' if ratio <= 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
