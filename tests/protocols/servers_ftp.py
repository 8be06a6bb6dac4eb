"""A real FTP server for the checker tests: proftpd with a test user and anonymous access.

proftpd runs in the foreground (`proftpd -n -c <conf>`) from a throwaway config, on a free
port of 127.0.0.1 and ::1. Its users come from its own passwd-format file (mod_auth_file),
so no system account is created. Import the fixture into a test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.protocols.servers_mail import free_dual_port, run_daemon, world_readable_tmpdir

FTP_USER, FTP_PASSWORD = "bob", "secret"
#: SHA-512 crypt of FTP_PASSWORD (`openssl passwd -6 -salt ldirectord secret`).
_FTP_HASH = ("$6$ldirectord$f9PEdB.GUHZzc5pMfdlhixvZXVw2nkteKMk2f2BKT1RXaAlvF4ioi6nT14yJbQgjDf"
             "hRvWOGPAoUTBQtDY3oU0")
USER_FILE, USER_TEXT = "/status.txt", b"ldirectord user file: OK\n"
ANON_FILE, ANON_TEXT = "/status.txt", b"ldirectord anonymous file: OK\n"
BIG_FILE, BIG_SIZE = "/big.bin", 6 * 1024 * 1024  # larger than the checker reads

_CONF = """\
ServerName "ldirectord test"
ServerType standalone
Port {port}
UseIPv6 on
DefaultAddress 127.0.0.1 ::1
SocketBindTight on
User nobody
Group nogroup
PidFile {d}/proftpd.pid
ScoreboardFile {d}/proftpd.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
SystemLog {d}/proftpd.log
TransferLog none
AuthOrder mod_auth_file.c
AuthUserFile {d}/ftpd.passwd
AuthGroupFile {d}/ftpd.group
RequireValidShell off
DefaultRoot ~
<Anonymous {d}/anon>
  User ftp
  Group nogroup
  UserAlias anonymous ftp
  RequireValidShell off
</Anonymous>
"""


@dataclass(frozen=True)
class Proftpd:
    port: int


@pytest.fixture(scope="module")
def proftpd() -> Iterator[Proftpd]:
    """proftpd with FTP_USER/FTP_PASSWORD (home has USER_FILE and BIG_FILE) and anonymous."""
    with world_readable_tmpdir("ldirectord-proftpd-") as d:
        home, anon = d / "home" / FTP_USER, d / "anon"
        home.mkdir(parents=True)
        anon.mkdir()
        (d / "home").chmod(0o755)
        for directory in (home, anon):
            directory.chmod(0o755)
        (home / USER_FILE.lstrip("/")).write_bytes(USER_TEXT)
        (home / BIG_FILE.lstrip("/")).write_bytes(b"\0" * BIG_SIZE)
        (anon / ANON_FILE.lstrip("/")).write_bytes(ANON_TEXT)
        passwd, group = d / "ftpd.passwd", d / "ftpd.group"
        passwd.write_text(f"{FTP_USER}:{_FTP_HASH}:65534:65534::{home}:/bin/sh\n"
                          f"ftp:*:65534:65534::{anon}:/usr/sbin/nologin\n")
        group.write_text("nogroup:x:65534:\n")
        for f in (passwd, group):
            f.chmod(0o600)  # proftpd refuses user files others can write
        port = free_dual_port()
        conf = d / "proftpd.conf"
        conf.write_text(_CONF.format(d=d, port=port))
        with run_daemon(["proftpd", "-n", "-c", str(conf)], [port], d / "stdout.log"):
            yield Proftpd(port)
