"""Checks per CPU-second for connect, http and https (with and without TLS session reuse)
against a local nginx, and keepalived's CPU per HTTP check for comparison where it can run.

Prints figures; it is not a test. Run as root from the repository:

    .venv/bin/python bench/checks.py                       # on the host
    bash tests/vm/ipvs-vm -- .venv/bin/python bench/checks.py --checks 400 --concurrency 10 \
        --reals 20 --delay 0.5          # with keepalived, under the VM's emulation

CPU is this process's CPU time (time.process_time: user + system, so the kernel's share of
every connect counts), divided by the number of checks; nginx's CPU is not counted. The
load is shaped like the daemon's: `--concurrency` tasks, each checking in a loop; each row
shows its best of `--rounds` (other load on the machine only ever adds CPU time).

keepalived (checker only, HTTP_GET on `--reals` nginx ports every `--delay` s) runs side by
side with our http check in one time window, so both see the same machine load; its CPU is
read from /proc and its checks counted in nginx's access log. keepalived needs a kernel IPVS
table to run its checker at all: where there is none (/proc/net/ip_vs) its row prints n/a and
the comparison needs the VM (tests/vm/ipvs-vm), whose emulated CPU slows and skews both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import regex

from checkers.base import CheckSpec, Result, Target
from checkers.connect import check_connect
from checkers.http import aclose_shared, check_http, check_https
from checkers.tls import TlsClient, use_client
from ldirectord.config.model import Service
from tests.protocols.servers_http import Nginx, run_nginx

HOST = "127.0.0.1"
RECEIVE = regex.compile(rb"ldirectord-test-OK")


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
                  concurrency: int, seconds: float = 0.0) -> Figure:
    """Run at least `checks` calls of `one` (and for at least `seconds`) from `concurrency`
    looping tasks; this process's CPU time and the wall time."""
    warm = [await one() for _ in range(min(20, checks))]
    assert all(warm), f"{name}: warm-up checks failed"
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    done = failures = 0

    async def worker() -> None:
        nonlocal done, failures
        while done < checks or loop.time() < until:
            done += 1
            if not await one():
                failures += 1

    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    return Figure(name, done, failures, time.process_time() - cpu0,
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

    async def session_per_check() -> bool:
        # What the http check did before it shared one session per event loop.
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True),
                trust_env=False, auto_decompress=False) as session, session.get(url) as resp:
            return resp.status == 200 and RECEIVE.search(await resp.read()) is not None
    rows.append(await measure("ref: aiohttp session per check, close",
                              session_per_check, checks, concurrency))

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


def http_check(n: Nginx) -> Callable[[], Awaitable[bool]]:
    spec = CheckSpec(Service.HTTP, request="/ok.html", receive=RECEIVE, negotiatetimeout=5)
    return _ok(check_http, n.target("http", HOST), spec)


async def ours(n: Nginx, checks: int, concurrency: int, references: bool) -> list[Figure]:
    https = CheckSpec(Service.HTTPS, request="/ok.html", receive=RECEIVE, negotiatetimeout=5)
    reuse, fresh = TlsClient(), _NoReuse()

    async def https_reuse(t: Target, s: CheckSpec) -> Result:
        with use_client(reuse):
            return await check_https(t, s)

    async def https_fresh(t: Target, s: CheckSpec) -> Result:
        with use_client(fresh):
            return await check_https(t, s)

    plan = [
        ("connect", _ok(check_connect, n.target("http", HOST),
                        CheckSpec(Service.NONE, checktimeout=5))),
        ("http (check_http)", http_check(n)),
        ("https TLS 1.3, session reuse", _ok(https_reuse, n.target("https", HOST), https)),
        ("https TLS 1.3, full handshakes",
         _ok(https_fresh, n.target("https", HOST), https)),
        ("https TLS 1.2, session reuse",
         _ok(https_reuse, n.target("https12", HOST), https)),
        ("https TLS 1.2, full handshakes",
         _ok(https_fresh, n.target("https12", HOST), https)),
    ]
    rows = [await measure(name, one, checks, concurrency) for name, one in plan]
    if references:
        rows += await _reference_rows(n, checks, concurrency)
    return rows


async def best_of(rounds: int, n: Nginx, checks: int, concurrency: int, references: bool
                  ) -> list[Figure]:
    """Each row's best round (least CPU per check): the machine's other load only adds."""
    best: dict[str, Figure] = {}
    try:
        for _ in range(rounds):
            for row in await ours(n, checks, concurrency, references):
                if row.name not in best or row.cpu_us < best[row.name].cpu_us:
                    best[row.name] = row
    finally:
        await aclose_shared()
    return list(best.values())


async def beside_keepalived(n: Nginx, args: argparse.Namespace) -> Figure:
    try:
        return await measure("http (check_http) beside keepalived", http_check(n),
                             args.checks, args.concurrency, seconds=args.seconds)
    finally:
        await aclose_shared()


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


@contextlib.contextmanager
def running_keepalived(n: Nginx, workdir: Path, delay: float
                       ) -> Iterator[Callable[[], tuple[float, int]] | str]:
    """keepalived's checker on the nginx's extra ports; yields a sampler of (its CPU
    seconds, HTTP_GET requests nginx has seen from it), or why it cannot run here."""
    exe = shutil.which("keepalived")
    if exe is None:
        yield "n/a (keepalived is not installed: apt-get install keepalived)"
        return
    if not Path("/proc/net/ip_vs").exists():
        yield "n/a (no kernel IPVS here; run this inside tests/vm/ipvs-vm)"
        return
    conf = workdir / "keepalived.conf"
    conf.write_text(_keepalived_conf(n.extra, delay))
    with (workdir / "keepalived.log").open("wb") as log:
        proc = subprocess.Popen(
            [exe, "-n", "-l", "-C", "-f", str(conf), "-p", str(workdir / "ka.pid"),
             "-c", str(workdir / "ka-check.pid"), "-r", str(workdir / "ka-vrrp.pid")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while _count_keepalived_requests(n.access_log) < 2 * len(n.extra):  # warmed up
            if proc.poll() is not None or time.monotonic() > deadline:
                yield f"n/a (keepalived did not check: see {workdir / 'keepalived.log'})"
                return
            time.sleep(0.1)
        pids = [proc.pid, *_children(proc.pid)]
        yield lambda: (_cpu_of(pids), _count_keepalived_requests(n.access_log))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def side_by_side(n: Nginx, workdir: Path, args: argparse.Namespace) -> list[str]:
    """Our http check and keepalived's HTTP_GET in the same time window against the same
    nginx, so both see the same machine load; the ratio of their CPU per check."""
    with running_keepalived(n, workdir, args.delay) as ka:
        if isinstance(ka, str):
            return [f"{'keepalived HTTP_GET':<46} {ka}",
                    f"{'ratio CPU/check ours : keepalived':<46} n/a"]
        cpu0, count0 = ka()
        wall0 = time.perf_counter()
        ours_row = asyncio.run(beside_keepalived(n, args))
        cpu1, count1 = ka()
        wall = time.perf_counter() - wall0
    if count1 == count0:
        return [f"{'keepalived HTTP_GET':<46} n/a (no checks in the window)"]
    theirs = Figure(f"keepalived HTTP_GET ({len(n.extra)} reals, delay_loop {args.delay})",
                    count1 - count0, 0, cpu1 - cpu0, wall)
    ratio = ours_row.cpu_us / theirs.cpu_us
    return [ours_row.line(), theirs.line(),
            f"{'ratio CPU/check ours : keepalived':<46} {ratio:>8.2f}  goal <= 2: "
            f"{'met' if ratio <= 2 else 'NOT met'}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--checks", type=int, default=5000, help="checks per figure")
    ap.add_argument("--concurrency", type=int, default=50, help="checking tasks")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each row's best is shown")
    ap.add_argument("--reals", type=int, default=50, help="keepalived real servers")
    ap.add_argument("--delay", type=float, default=0.2, help="keepalived delay_loop (s)")
    ap.add_argument("--seconds", type=float, default=20,
                    help="least length of the side-by-side window with keepalived")
    ap.add_argument("--no-references", action="store_true",
                    help="skip the reference rows (aiohttp and streams without our checker)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ldirectord-bench-") as tmp, \
            run_nginx(Path(tmp), extra_ports=args.reals, access_log=True) as n:
        rows = asyncio.run(best_of(args.rounds, n, args.checks, args.concurrency,
                                   not args.no_references))
        goals = {"http (check_http)": 5000.0, "https TLS 1.3, session reuse": 1000.0,
                 "https TLS 1.2, session reuse": 1000.0}
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"# best of {args.rounds} rounds of {args.checks} checks per row, "
              f"{args.concurrency} concurrent, against nginx "
              f"on {HOST}; CPU = this process's user+system time; "
              f"{os.cpu_count()} CPUs, load average {' '.join(load)}")
        for row in rows:
            print(row.line(goals.get(row.name)))
        for line in side_by_side(n, Path(tmp), args):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
