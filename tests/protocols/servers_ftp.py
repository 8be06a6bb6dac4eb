"""A real FTP server for the checker tests: proftpd with a test user and anonymous access.

proftpd runs in the foreground (`proftpd -n -c <conf>`) from a throwaway config, on a free
port of 127.0.0.1 and ::1. Its users come from its own passwd-format file (mod_auth_file),
so no system account is created. Import the fixture into a test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.lab.servers import FTP_PASSWORD, FTP_USER, proftpd_config
from tests.protocols.servers_mail import free_dual_port, run_daemon, world_readable_tmpdir

__all__ = ["FTP_PASSWORD", "FTP_USER", "Proftpd", "proftpd"]

USER_FILE, USER_TEXT = "/status.txt", b"ldirectord user file: OK\n"
ANON_FILE, ANON_TEXT = "/status.txt", b"ldirectord anonymous file: OK\n"
BIG_FILE, BIG_SIZE = "/big.bin", 6 * 1024 * 1024  # larger than the checker reads
#: What `^(a|aa)+$` backtracks on without end (tests/protocols/test_receive_bound.py).
PATHOLOGICAL_FILE, PATHOLOGICAL_TEXT = "/pathological.txt", b"a" * 50 + b"!"


@dataclass(frozen=True)
class Proftpd:
    port: int


@pytest.fixture(scope="module")
def proftpd() -> Iterator[Proftpd]:
    """proftpd with FTP_USER/FTP_PASSWORD (home has USER_FILE, BIG_FILE and
    PATHOLOGICAL_FILE) and anonymous."""
    with world_readable_tmpdir("ldirectord-proftpd-") as d:
        home, anon = d / "home" / FTP_USER, d / "anon"
        home.mkdir(parents=True)
        anon.mkdir()
        (d / "home").chmod(0o755)
        for directory in (home, anon):
            directory.chmod(0o755)
        (home / USER_FILE.lstrip("/")).write_bytes(USER_TEXT)
        (home / BIG_FILE.lstrip("/")).write_bytes(b"\0" * BIG_SIZE)
        (home / PATHOLOGICAL_FILE.lstrip("/")).write_bytes(PATHOLOGICAL_TEXT)
        (anon / ANON_FILE.lstrip("/")).write_bytes(ANON_TEXT)
        port = free_dual_port()
        conf = proftpd_config(d, "ldirectord test", ["127.0.0.1", "::1"], port, home=home,
                              anon=anon)
        with run_daemon(["proftpd", "-n", "-c", str(conf)], [port], d / "stdout.log"):
            yield Proftpd(port)
