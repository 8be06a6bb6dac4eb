"""Running one daemon through a scenario: start it, apply the steps, record table and log per step.

Both daemons run in the foreground with `-d` (log lines on stderr, no pid file) on the same
config file. After each step the harness polls `ipvsadm -Ln` until the table is the step's
expected one and every real has been checked `step.checks` more times (the check lines each
daemon prints in debug mode), then records the table and the SPEC §5.4 log lines of the step.

Signals (the reload's HUP, the final TERM) reach the original only between its check
rounds (`Run.signal_between_checks`): a signal that arrives while one of its checks waits
on the network interrupts that wait, the check fails, and the original deletes a healthy
real, so its log would depend on when the harness happened to send it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from signal import Signals

from tests.compat.model import START, Action, Step, Who

ROOT = Path(__file__).resolve().parents[2]
PERL_LDIRECTORD = ROOT / "tests/.work/perl-ldirectord/root/usr/sbin/ldirectord"
OURS = ROOT / ".venv" / "bin" / "ldirectord"
#: Seconds a step may take to settle; the start includes loading either daemon under
#: emulation, which takes tens of seconds on a busy machine; so does a reload.
STEP_DEADLINE = float(os.environ.get("COMPAT_STEP_DEADLINE", "180"))
START_DEADLINE = float(os.environ.get("COMPAT_START_DEADLINE", "240"))
POLL = 0.3
PROC_IP_VS = Path("/proc/net/ip_vs")
#: How often to look whether the original is between two check rounds: a look is a read of
#: /proc, and the original sleeps `checkinterval` (1 s in the scenarios) between rounds.
IDLE_POLL = 0.02
#: The system calls (Linux x86_64 numbers) of the sleep between the original's check rounds
#: (Perl's `sleep`): nanosleep and clock_nanosleep. No check of the original sleeps.
SLEEP_SYSCALLS = frozenset({35, 230})

#: The log lines of SPEC Part B §5.4 (after the `DEBUGn:` copies are dropped).
CATALOGUE = re.compile("|".join([
    r"^Invoking ldirectord invoked as: ", r"^Starting Linux Director ", r"^Exiting ",
    r"^Reloading Linux Director Daemon config on signal",
    r"^Linux Director Daemon terminated on signal: ", r"^Config file ", r"^Could not run ",
    r"^(Added|Changed) virtual server: ", r"^(Added|Restored|Deleted) (real|fallback) server: ",
    r"^(Quiescent|Readd Quiescent) real server: ", r"^Purged (real|virtual) server ",
    r"^Soft failure real server: ", r"^Resetting soft failure count: ",
    r"^Configuration file '", r"^ - (reread|ignore) new configuration", r"^Error \[",
    r"^Child not running for ", r"^Spawned child ", r"^Killing child ", r"^fork failed",
    r"^emailalert: ", r"^failed to send ", r"^system\(", r"^system_timeout\(",
]))
_NORMALISE = [
    (re.compile(r"^(Invoking ldirectord invoked as: ).*"), r"\1<argv>"),
    (re.compile(r"(with pid: |PID=|Error \[)\d+"), r"\1<pid>"),
]
#: A check starting (Perl) or finishing (ours): the key is the real's identity.
_CHECK_LINE = {
    Who.PERL: re.compile(r"^DEBUG2: Checking [^:]+: (.*)$"),
    Who.OURS: re.compile(r"^DEBUG2: check (.+?): (?:up|down), "),
}


def normalise(line: str) -> str:
    for pattern, repl in _NORMALISE:
        line = pattern.sub(repl, line)
    return line


def catalogue_lines(text: str) -> list[str]:
    """The §5.4 lines of a stretch of daemon output, without timestamps and pids."""
    return [normalise(line) for line in text.splitlines()
            if not line.startswith("DEBUG") and CATALOGUE.search(line)]


class TableWatch:
    """`ipvsadm -Ln`, run again only when the kernel's own listing changed (spawns are dear)."""

    def __init__(self) -> None:
        self._raw: str | None = None
        self._text = ""

    def read(self) -> str:
        for _ in range(5):
            raw = PROC_IP_VS.read_text()
            if raw == self._raw:
                return self._text
            text = ipvsadm_table()
            # Cache only a listing taken while the table stood still: a table that went
            # A -> B -> A between the two reads must not keep B's text under A.
            if PROC_IP_VS.read_text() == raw:
                self._raw, self._text = raw, text
                return text
        self._raw = None
        return text


def _group_members(pgid: int) -> dict[int, str]:
    """pid -> state letter (R, S, T, Z, ...) of every process in process group `pgid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            found[int(entry.name)] = fields[0]
    return found


def _syscall(pid: int) -> int | None:
    """The system call the process is blocked in, or None (running, gone, not in one)."""
    try:
        first = (Path("/proc") / str(pid) / "syscall").read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.lstrip("-").isdigit() else None


def _group_sleeping(pgid: int) -> bool:
    """Every process of the group is in a sleep (or a zombie): no check is in progress."""
    if _syscall(pgid) not in SLEEP_SYSCALLS:  # the leader first: no scan of /proc while busy
        return False
    members = _group_members(pgid)
    return bool(members) and all(state == "Z" or _syscall(pid) in SLEEP_SYSCALLS
                                 for pid, state in members.items())


def _group_stopped(pgid: int, deadline: float) -> bool:
    """Wait until every process of the group has stopped (SIGSTOP is not synchronous)."""
    while any(state not in "TtZX" for state in _group_members(pgid).values()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)  # a stop takes effect within a scheduling tick; bounded above
    return True


def ipvsadm_table() -> str:
    done = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ipvsadm -Ln: {done.stderr.strip()}")
    return done.stdout


def sorted_table(text: str) -> str:
    """`ipvsadm -Ln` with services and their real servers sorted (the only normalisation)."""
    blocks: list[list[str]] = []
    for line in text.splitlines()[3:]:
        if line.startswith("  ->"):
            blocks[-1].append(line.rstrip())
        elif line.strip():
            blocks.append([line.rstrip()])
    return "\n".join("\n".join([b[0], *sorted(b[1:])]) for b in sorted(blocks))


def compact(text: str) -> str:
    """A sorted table without the connection counters, spaces collapsed: what steps state."""
    return compact_sorted(sorted_table(text))


def compact_sorted(table: str) -> str:
    """`compact` of a table `sorted_table` already made."""
    out = []
    for line in table.splitlines():
        words = line.split()
        out.append(" ".join(words[:4] if words[0] == "->" else words))
    return "\n".join(out)


def expected_compact(table: str) -> str:
    """A step's table text in the form `compact` produces (services first, reals sorted)."""
    lines = [" ".join(x.split()) for x in table.strip().splitlines() if x.strip()]
    text = "IP\nProt\n  ->\n" + "\n".join(x if not x.startswith("->") else "  " + x for x in lines)
    return compact(text)


@dataclass
class StepRecord:
    """What one daemon showed at the end of one step."""

    name: str
    table: str  # sorted `ipvsadm -Ln`
    lines: list[str]  # §5.4 lines logged during the step
    seconds: float  # how long the step took to settle (for the report)
    matched: float  # when, within that, the table first matched


@dataclass
class Run:
    """One daemon process going through a scenario's steps."""

    who: Who
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    records: list[StepRecord] = field(default_factory=list)
    _offset: int = 0

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # reuse and keep compiled modules
        if self.who is Who.PERL:
            argv = ["perl", str(PERL_LDIRECTORD), "-d", str(self.config), "start"]
        else:
            argv = [str(OURS), "-d", str(self.config), "start"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True, cwd=self.config.parent)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def checks(self, text: str) -> Counter[str]:
        found: Counter[str] = Counter()
        for line in text.splitlines():
            m = _CHECK_LINE[self.who].match(line)
            if m:
                found[m.group(1)] += 1
        return found

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            if sig is signal.SIGKILL:  # the whole group: Perl's checks may have children
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)

    def signal_between_checks(self, sig: Signals, timeout: float = STEP_DEADLINE) -> None:
        """Send `sig` when no check of the daemon is in progress (see the module doc).

        The original checks its reals one after the other and then sleeps; a signal is sent
        to it only while every process of its group is asleep there, and stopped (SIGSTOP),
        so it cannot wake up and start a check between the look and the signal, which is
        delivered when the group continues. Ours needs no wait: it handles signals on its
        event loop, where they interrupt no check, and a check that TERM cancels gives no
        result, so it is signalled at once.
        """
        assert self.proc is not None
        if self.who is Who.OURS:
            self.signal(sig)
            return
        pgid = self.proc.pid  # started with start_new_session: the group is its own
        deadline = time.monotonic() + timeout
        while True:
            if _group_sleeping(pgid):
                os.killpg(pgid, signal.SIGSTOP)
                try:
                    if _group_stopped(pgid, deadline) and _group_sleeping(pgid):
                        self.proc.send_signal(sig)
                        return
                finally:
                    os.killpg(pgid, signal.SIGCONT)
            if self.proc.poll() is not None:
                raise self.failure(f"exited with {self.proc.returncode} before {sig.name}",
                                   ipvsadm_table())
            if time.monotonic() > deadline:
                raise self.failure(f"never between two check rounds: {sig.name} not sent",
                                   ipvsadm_table())
            time.sleep(IDLE_POLL)  # polling /proc, bounded by the deadline

    def kill(self) -> None:
        """Make sure the daemon is gone (the end of a run, or a failed one)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def failure(self, what: str, table: str) -> AssertionError:
        tail = "\n".join(self.text().splitlines()[-40:])
        return AssertionError(f"{self.who.value}: {what}\n--- table:\n{table}\n"
                              f"--- last output:\n{tail}")

    def settle(self, step: Step, expected: str, checked: bool) -> None:
        """Wait until the table is `expected` and every real was checked `step.checks` times."""
        assert self.proc is not None
        began = time.monotonic()
        want = expected_compact(expected)
        slow = step.name == START or step.action is Action.RELOAD  # parsing, churn
        deadline = time.monotonic() + (START_DEADLINE if slow else STEP_DEADLINE)
        watch = TableWatch()
        begin = self._offset
        if step.action is Action.RELOAD:  # count only checks of the new configuration
            while (pos := self.text().find("Reloading Linux Director Daemon config",
                                           begin)) < 0:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise self.failure(f"step {step.name}: no reload logged", ipvsadm_table())
                time.sleep(POLL)
            begin = pos
        mark: Counter[str] | None = None
        matched = time.monotonic()
        while True:
            table = watch.read()
            if step.action is Action.TERM:
                if self.proc.poll() is not None and compact(table) == want:
                    break
            elif compact(table) == want:
                if mark is None:
                    matched = time.monotonic()
                text = self.text()
                mark = mark if mark is not None else self.checks(text)
                seen = self.checks(text[begin:])
                now = self.checks(text)
                # The original logs a check line even for checktype=on/off, so its first
                # round (which ends the start's churn) is always waited for.
                need_checks = checked or self.who is Who.PERL
                if ((seen or not need_checks)
                        and all(now[k] - mark[k] >= step.checks for k in seen)):
                    break
            else:
                mark = None
            if self.proc.poll() is not None and step.action is not Action.TERM:
                raise self.failure(f"step {step.name}: exited with {self.proc.returncode}",
                                   table)
            if time.monotonic() > deadline:
                raise self.failure(f"step {step.name}: the table did not become\n{want}",
                                   compact(table))
            time.sleep(POLL)  # polling the kernel table, bounded by the deadline
        table = ipvsadm_table()
        text = self.text()
        self.records.append(StepRecord(step.name, sorted_table(table),
                                       catalogue_lines(text[self._offset:]),
                                       time.monotonic() - began, matched - began))
        self._offset = len(text)
