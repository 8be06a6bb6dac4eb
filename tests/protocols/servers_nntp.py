"""A real NNTP server for the checker tests: leafnode, served on loopback by socat.

leafnode is an inetd-style server (one process per connection on stdin/stdout) that reads
its config only from /etc/news/leafnode/config. The fixture runs socat (listening on a
free port of 127.0.0.1 and ::1, exec'ing leafnode with the connection as its stdio) inside
a private mount namespace in which a throwaway config folder is bind-mounted over that
folder, so the system's leafnode config is never touched. inn2, the other Debian NNTP
server, needs a whole news spool layout and a running innd with fixed paths: far heavier
for a banner check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.protocols.servers_mail import free_dual_port, run_daemon, world_readable_tmpdir

LEAFNODE = "/usr/sbin/leafnode"
#: The folder leafnode reads `config` from (shipped by the package; its `config` file is
#: written by the package's install script, so the whole folder is replaced).
SYSTEM_CONFIG_DIR = "/etc/news/leafnode"
#: leafnode refuses to serve without a unique-looking FQDN (it answers 503 instead).
GOOD_HOSTNAME = "news.ldirectord-checks.net"
BAD_HOSTNAME = "news.example.org"

# Positional arguments keep every path out of the shell text.
_SCRIPT = 'mount --bind "$1" "$2" && { socat "$3" "$5" & exec socat "$4" "$5"; }'


@dataclass(frozen=True)
class Leafnode:
    port: int  # a working leafnode: banner 200
    broken_port: int  # leafnode without a usable hostname: banner 503


@contextmanager
def _leafnode(hostname: str) -> Iterator[int]:
    with world_readable_tmpdir("ldirectord-leafnode-") as d:
        etc = d / "etc"
        etc.mkdir(mode=0o755)
        etc.chmod(0o755)
        config = etc / "config"
        config.write_text(f"server = news.invalid\nhostname = {hostname}\nexpire = 20\n")
        config.chmod(0o644)
        port = free_dual_port()
        listen = [f"TCP4-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                  f"TCP6-LISTEN:{port},bind=[::1],ipv6only=1,reuseaddr,fork"]
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _SCRIPT, "sh",
                str(etc), SYSTEM_CONFIG_DIR, *listen, f"EXEC:{LEAFNODE},nofork"]
        with run_daemon(argv, [port], d / "stdout.log"):
            yield port


@pytest.fixture(scope="module")
def leafnode() -> Iterator[Leafnode]:
    """Two leafnode servers: one that works and one that refuses service (503)."""
    with _leafnode(GOOD_HOSTNAME) as good, _leafnode(BAD_HOSTNAME) as broken:
        yield Leafnode(good, broken)
