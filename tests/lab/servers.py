"""The real server programs the lab runs: their throwaway configs and command lines.

nginx (HTTP) and proftpd (FTP) come from Debian; `tcpsink.py` beside this file is a tiny
asyncio server for benchmarks that must answer on thousands of addresses at once.
Each builder writes what its program needs into a private directory and returns the
argv to run inside the host's namespace, in the foreground.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

HTTP_PAGE = "<html><body>Test Page</body></html>\n"
FTP_USER, FTP_PASSWORD = "bob", "secret"
FTP_FILE = "/welcome.msg"
FTP_TEXT = "Welcome to the ldirectord lab FTP server\n"
#: SHA-512 crypt of FTP_PASSWORD (`openssl passwd -6 -salt ldirectord secret`).
_FTP_HASH = ("$6$ldirectord$f9PEdB.GUHZzc5pMfdlhixvZXVw2nkteKMk2f2BKT1RXaAlvF4ioi6nT14yJbQgjDf"
             "hRvWOGPAoUTBQtDY3oU0")

_NGINX = """\
master_process off;
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  default_type text/html;
  access_log off;
  client_body_temp_path {d}/tmp-body;
  proxy_temp_path {d}/tmp-proxy;
  fastcgi_temp_path {d}/tmp-fastcgi;
  uwsgi_temp_path {d}/tmp-uwsgi;
  scgi_temp_path {d}/tmp-scgi;
  keepalive_timeout 0;
  server {{
    listen {address}:{port};
    root {d}/www;
  }}
}}
"""

_PROFTPD = """\
ServerName "{name}"
ServerType standalone
Port {port}
UseIPv6 {ipv6}
DefaultAddress {addresses}
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


def _exe(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (see tests/deps/apt-e2e.txt)")
    return found


def nginx(d: Path, address: str, port: int) -> list[str]:
    """nginx serving /index.html (HTTP_PAGE) on address:port; `d` must be empty."""
    www = d / "www"
    www.mkdir(parents=True)
    (www / "index.html").write_text(HTTP_PAGE)
    conf = d / "nginx.conf"
    conf.write_text(_NGINX.format(d=d, address=address, port=port))
    return [_exe("nginx"), "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)]


def proftpd_config(d: Path, name: str, addresses: Sequence[str], port: int, *, home: Path,
                   anon: Path) -> Path:
    """Write proftpd's config and its own user files into `d`; returns the config's path.

    FTP_USER/FTP_PASSWORD logs in to `home`, anonymous (any password) to `anon`; the users
    live in proftpd's passwd-format files (mod_auth_file), so no system account is made.
    """
    passwd, group = d / "ftpd.passwd", d / "ftpd.group"
    passwd.write_text(f"{FTP_USER}:{_FTP_HASH}:65534:65534::{home}:/bin/sh\n"
                      f"ftp:*:65534:65534::{anon}:/usr/sbin/nologin\n")
    group.write_text("nogroup:x:65534:\n")
    for f in (passwd, group):
        f.chmod(0o600)  # proftpd refuses user files others can write
    conf = d / "proftpd.conf"
    ipv6 = "on" if any(":" in a for a in addresses) else "off"
    conf.write_text(_PROFTPD.format(d=d, name=name, port=port, ipv6=ipv6,
                                    addresses=" ".join(addresses)))
    return conf


def proftpd(d: Path, name: str, address: str, port: int) -> list[str]:
    """proftpd on address:port: anonymous (any password) and FTP_USER/FTP_PASSWORD."""
    d.chmod(0o755)  # proftpd drops to nobody and must still reach the home directories
    home, anon = d / "home", d / "anon"
    for directory in (home, anon):
        directory.mkdir(parents=True)
        directory.chmod(0o755)
        (directory / FTP_FILE.lstrip("/")).write_text(FTP_TEXT)
    conf = proftpd_config(d, f"ldirectord lab {name}", [address], port, home=home, anon=anon)
    return [_exe("proftpd"), "-n", "-q", "-c", str(conf)]


def tcpsink(port: int) -> list[str]:
    """One asyncio process answering on every local address of its namespace at `port`."""
    return [sys.executable, str(Path(__file__).with_name("tcpsink.py")), str(port)]
