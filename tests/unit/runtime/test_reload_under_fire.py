"""Reload under fire: hundreds of SIGHUPs, good and broken edits in turn, while checks run.

A real daemon (`ldirectord -d --dry-run <cf> start`, the in-memory IPVS table) checks real
loopback listeners with connect checks. The test edits the file and sends SIGHUP with
os.kill, one edit per signal, and waits for each reload's outcome before the next edit,
so every signal is accounted for: a good edit switches between two configs (each switch
adds a virtual, which says the reload went through), a broken edit must be refused with
file:line and change nothing. Every table change is logged in this mode as the ipvsadm
command it stands for; replaying them gives the table, which must end as the last good
config says, with the daemon still up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

LDIRECTORD = str(Path(sys.executable).parent / "ldirectord")
DEADLINE = 20.0
CYCLES = 120  # each one a broken edit, then a good one: 240 signals
CONVERGE_EVERY = 10  # cycles between waits for the checks to bring the table in line
RELOADING = "Reloading Linux Director Daemon config on signal"
ADDED = "Added virtual server: "
RUNNING = "Running system(ipvsadm "

# What the operator mistypes; each is inserted into the next good file.
BROKEN = [
    ("syntax error", "global", "this line is not a directive"),
    ("virtual without a port", "global", "virtual=10.9.9.6"),
    ("unresolvable address", "section", "\treal=no-such-host.invalid:80 masq"),
    ("bad number", "section", "\tcheckinterval=1m"),
    ("negative number", "global", "failurecount=-1"),
    ("leading zero in a range", "section", "\treal=010.0.0.[1-2]:80 gate"),
]

Table = dict[str, tuple[str, dict[str, tuple[str, int]]]]


@pytest.fixture
def ports() -> Iterator[dict[str, int]]:
    """Three loopback ports that accept connections (A, B, C) and one that refuses (D)."""
    socks = []
    for _ in range(3):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        socks.append(sock)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connects are refused
    yield {"A": socks[0].getsockname()[1], "B": socks[1].getsockname()[1],
           "C": socks[2].getsockname()[1], "D": refused}
    for sock in socks:
        sock.close()


def good_configs(tmp_path: Path, p: dict[str, int]) -> list[tuple[str, str, Table]]:
    """Two good files: (text, the virtual whose addition marks the switch to it, the table
    it asks for with A, B, C up and D down)."""
    head = (f'logfile="{tmp_path / "ld.log"}"\n'
            "checkinterval=1\n"
            "checktimeout=1\n"
            "quiescent=no\n"
            "\n")
    check = "\tservice=http\n\tchecktype=connect\n"
    one = (head
           + "virtual=10.9.9.9:80\n"
           f"\treal=127.0.0.1:{p['A']} masq 1\n"
           f"\treal=127.0.0.1:{p['B']} masq 2\n"
           f"\treal=127.0.0.1:{p['D']} masq 1\n"
           + check + "\tscheduler=wrr\n"
           "virtual=10.9.9.7:80\n"
           f"\treal=127.0.0.1:{p['D']} masq\n"
           f"\tfallback=127.0.0.1:{p['A']} masq\n"
           + check + "\tscheduler=rr\n")
    two = (head
           + "virtual=10.9.9.9:80\n"
           f"\treal=127.0.0.1:{p['A']} masq 1\n"
           f"\treal=127.0.0.1:{p['C']} masq 3\n"
           + check + "\tscheduler=wrr\n"
           "virtual=10.9.9.8:80\n"
           f"\treal=127.0.0.1:{p['B']} masq 1\n"
           + check + "\tscheduler=rr\n")

    def dest(name: str) -> str:
        return f"127.0.0.1:{p[name]}"

    return [
        (one, "10.9.9.7:80", {
            "-t 10.9.9.9:80": ("-s wrr", {dest("A"): ("-m", 1), dest("B"): ("-m", 2)}),
            "-t 10.9.9.7:80": ("-s rr", {dest("A"): ("-m", 1)}),  # the fallback
        }),
        (two, "10.9.9.8:80", {
            "-t 10.9.9.9:80": ("-s wrr", {dest("A"): ("-m", 1), dest("C"): ("-m", 3)}),
            "-t 10.9.9.8:80": ("-s rr", {dest("B"): ("-m", 1)}),
        }),
    ]


def broken_edit(good: str, where: str, line: str) -> str:
    """`good` with `line` added among the globals, or inside its first virtual section."""
    if where == "global":
        return f"{line}\n{good}"
    first, rest = good.split("virtual=", 1)[0], good.split("virtual=", 1)[1]
    head, body = rest.split("\n", 1)
    return f"{first}virtual={head}\n{line}\n{body}"


class DaemonLog:
    """The daemon's stderr, read as it grows: the lines that matter, and the table its
    commands build."""

    def __init__(self, path: Path, proc: subprocess.Popen[bytes]) -> None:
        self.path = path
        self.proc = proc
        self.lines: list[str] = []  # all but the debug lines
        self.reloads = 0
        self.errors: list[str] = []
        self.added: Counter[str] = Counter()  # virtual -> "Added virtual server" lines
        self.table: Table = {}
        self._offset = 0
        self._partial = b""

    def read(self) -> None:
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace")
            if line.startswith(("DEBUG", " ")):
                continue
            self.lines.append(line)
            if line == RELOADING:
                self.reloads += 1
            elif line.startswith("Error ["):
                self.errors.append(line)
            elif line.startswith(ADDED):
                self.added[line[len(ADDED):]] += 1
            elif line.startswith(RUNNING) and line.endswith(")"):
                replay(self.table, line[len(RUNNING):-1].split())

    def wait(self, cond: Callable[[], bool], what: str) -> None:
        """Until `cond` holds (failing at once if the daemon exited, or at the deadline)."""
        deadline = time.monotonic() + DEADLINE
        delay = 0.002
        while True:
            self.read()
            if cond():
                return
            if self.proc.poll() is not None:
                self.read()
                pytest.fail(f"the daemon exited ({self.proc.returncode}) waiting for {what}:\n"
                            + "\n".join(self.tail()))
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n" + "\n".join(self.tail()))
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def wait_reloads(self, count: int, what: str) -> None:
        self.wait(lambda: self.reloads == count, what)

    def wait_errors(self, more_than: int, what: str) -> None:
        self.wait(lambda: len(self.errors) > more_than, what)

    def wait_added(self, virtual: str, count: int, what: str) -> None:
        self.wait(lambda: self.added[virtual] == count, what)

    def wait_table(self, table: Table, what: str) -> None:
        self.wait(lambda: self.table == table, what)

    def tail(self) -> list[str]:
        return self.lines[-25:]


def replay(table: Table, args: list[str]) -> None:
    """Apply one ipvsadm command line (without the program name) to `table`."""
    op, service = args[0], f"{args[1]} {args[2]}"
    opts = args[3:]
    if op in ("-A", "-E"):
        dests = table[service][1] if op == "-E" else {}
        assert (op == "-A") == (service not in table), f"ipvsadm {' '.join(args)}"
        table[service] = (" ".join(opts), dests)
    elif op == "-D":
        del table[service]
    elif op in ("-a", "-e", "-d"):
        dest = opts[opts.index("-r") + 1]
        dests = table[service][1]
        assert (op == "-a") == (dest not in dests), f"ipvsadm {' '.join(args)}"
        if op == "-d":
            del dests[dest]
        else:
            method = next(o for o in opts if o in ("-g", "-m", "-i"))
            dests[dest] = (method, int(opts[opts.index("-w") + 1]))
    else:
        raise AssertionError(f"unexpected command: ipvsadm {' '.join(args)}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_hundreds_of_reloads_good_and_broken_while_checks_run(
        tmp_path: Path, ports: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDIRECTORD_RUNDIR", str(tmp_path))
    goods = good_configs(tmp_path, ports)
    cfg = tmp_path / "fire.cf"
    cfg.write_text(goods[0][0])
    err = tmp_path / "stderr"
    with err.open("wb") as out:
        proc = subprocess.Popen([LDIRECTORD, "-d", "--dry-run", str(cfg), "start"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=out)
    log = DaemonLog(err, proc)
    try:
        log.wait_table(goods[0][2], "the first table")
        hups = 0
        for cycle in range(CYCLES):
            name, where, line = BROKEN[cycle % len(BROKEN)]
            text, marker, table = goods[(cycle + 1) % 2]

            cfg.write_text(broken_edit(text, where, line))
            errors = len(log.errors)
            os.kill(proc.pid, signal.SIGHUP)
            hups += 1
            log.wait_reloads(hups, f"reload {hups}")
            log.wait_errors(errors, f"the refusal of edit {cycle} ({name}: {line.strip()})")
            assert all(f"reading file {cfg} at line " in e for e in log.errors[errors:]), \
                f"{name}: an error without file:line: {log.errors[errors:]}"

            # The old file, still running after the refusal, lacks `marker`'s virtual: the
            # good edit adds it (a broken edit taken by mistake would have added it).
            added = log.added[marker] + 1
            cfg.write_text(text)
            os.kill(proc.pid, signal.SIGHUP)
            hups += 1
            log.wait_reloads(hups, f"reload {hups}")
            log.wait_added(marker, added, f"good edit {cycle} (reload {hups})")
            if cycle % CONVERGE_EVERY == 0 or cycle == CYCLES - 1:
                # New reals go in only once checked: the checks run between reloads.
                log.wait_table(table, f"the table of good edit {cycle}")

        assert proc.poll() is None, "the daemon stopped"
        assert log.table == goods[CYCLES % 2][2]
        assert log.reloads == hups == 2 * CYCLES
        assert len(log.errors) >= CYCLES
        assert not [s for s in log.lines if "Internal error" in s or ") failed:" in s]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
        log.read()
        assert "Linux Director Daemon terminated on signal: TERM" in log.lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
