"""The side-by-side harness signals the original only between its check rounds (on the host).

A Perl stand-in for the original's main loop (check one real, then sleep; its TERM handler
only sets a flag, as the original's does) runs against a server that holds its greeting
back, so the stand-in sits in the middle of a check for as long as the test wants. A
signal that arrived then would interrupt the check's wait, and the check would fail: the
race that made a side-by-side scenario's log depend on timing.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat import harness
from tests.compat.harness import Run
from tests.compat.model import Who

WAIT = 30.0  # a bound on waiting for a condition, never a timing assertion

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="the harness reads x86_64 system call numbers")

#: The original's loop in miniature: `can_read` returns early when a signal interrupts it.
STAND_IN = r"""
use IO::Socket::INET; use IO::Select;
$| = 1;
my $term;
$SIG{TERM} = sub { $term = 1 };
while (1) {
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die;
    my $s = IO::Select->new($sock);
    if ($s->can_read(60)) { sysread($sock, my $buf, 64); print "up\n" } else { print "down\n" }
    close $sock;
    if ($term) { print "TERM after a check\n"; exit 0 }
    sleep 60;
    if ($term) { print "TERM while asleep\n"; exit 0 }
}
"""


class HeldGreeting:
    """A server that accepts and sends its greeting only when `release` is set."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            self.accepted.set()
            if self.release.wait(WAIT):
                conn.sendall(b"200 ready\r\n")
                conn.recv(1)  # until the client closes


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[Run, HeldGreeting]]:
    server = HeldGreeting()
    log = tmp_path / "stand-in.log"
    run = Run(Who.PERL, tmp_path / "unused.cf", log)
    with log.open("wb") as out:
        run.proc = subprocess.Popen(["perl", "-e", STAND_IN, str(server.port)],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    try:
        yield run, server
    finally:
        server.release.set()
        run.kill()
        server.sock.close()


def test_a_signal_waits_for_the_end_of_the_check(stand_in: tuple[Run, HeldGreeting]) -> None:
    run, server = stand_in
    assert run.proc is not None
    assert server.accepted.wait(WAIT)  # the stand-in is in the middle of its check
    assert not harness._group_sleeping(run.proc.pid)
    sender = threading.Thread(target=run.signal_between_checks, args=(signal.SIGTERM, WAIT))
    sender.start()
    # A harness that signals at once does it now, while the check waits for the greeting.
    sender.join(1.0)
    server.release.set()
    sender.join(WAIT)
    assert not sender.is_alive()
    assert run.proc.wait(WAIT) == 0
    assert run.text().splitlines() == ["up", "TERM while asleep"]


def test_a_process_waiting_for_its_child_is_not_between_checks() -> None:
    # The original's external checks: it waits for the check command, which may sleep.
    proc = subprocess.Popen(["perl", "-e", 'system("sleep", "60")'], start_new_session=True)
    try:
        deadline = time.monotonic() + WAIT
        while not any(harness._syscall(pid) in harness.SLEEP_SYSCALLS
                      for pid in harness._group_members(proc.pid) if pid != proc.pid):
            assert time.monotonic() < deadline, "the child never went to sleep"
            time.sleep(0.01)  # polling /proc, bounded by the deadline
        assert not harness._group_sleeping(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(WAIT)
