"""Debian's nginx as the real HTTP, HTTPS and forward-proxy server for the http checkers.

`run_nginx(workdir)` writes a throwaway config, certificate and document root into
`workdir`, starts `nginx -c <workdir>/nginx.conf -g 'daemon off;'` listening on free ports
of 127.0.0.1 and ::1, waits until every port accepts, and stops it on exit. The benchmark
(bench/checks.py) uses it too.

nginx also plays the forward proxy for http_proxy: for an absolute-URI request it passes
the request on to `http://$http_host` (the Host header aiohttp sets from the URL) and adds
`X-Via-Proxy: yes`, which /echo prints, so a test can tell the request went through it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from checkers.base import Target
from tests.protocols.faults import free_port

HOSTS = ("127.0.0.1", "::1")
VIRTUALHOST = "www.example.test"
OK_TEXT = b"<html><body>ok page: ldirectord-test-OK</body></html>\n"
WRONG_TEXT = b"<html><body>down for maintenance</body></html>\n"
BIG_HEAD = b"BIGSTART"
BIG_TAIL = b"BIGTAIL"
BIG_SIZE = 2 * 1024 * 1024
#: /chain/N answers with N redirects before "end of chain".
CHAIN_MAX = 9

_ECHO = ('host=$host sni=$ssl_server_name reused=$ssl_session_reused '
         'proto=$ssl_protocol ua=$http_user_agent conn=$http_connection '
         'via=$http_x_via_proxy ae=$http_accept_encoding method=$request_method\\n')


@dataclass(frozen=True)
class Nginx:
    """A running nginx: ports per role and address family."""

    http: dict[str, int]
    https: dict[str, int]
    https12: dict[str, int]  # TLS 1.2 only: session-ID resumption rather than tickets
    proxy: dict[str, int]
    extra: tuple[int, ...]  # more plain HTTP ports on 127.0.0.1 (benchmark real servers)
    root: Path
    access_log: Path

    def target(self, role: str, host: str) -> Target:
        ports: dict[str, int] = getattr(self, role)
        return Target(host, ports[host])


def _listen(ports: dict[str, int], suffix: str = "") -> str:
    lines = []
    for host, port in ports.items():
        addr = f"[{host}]" if ":" in host else host
        lines.append(f"listen {addr}:{port}{suffix};")
    return "\n    ".join(lines)


def _ports() -> dict[str, int]:
    return {h: free_port(h) for h in HOSTS}


def _extra_ports(count: int, roles: list[dict[str, int]]) -> tuple[int, ...]:
    # A port just probed free may be handed out again: nginx refuses a duplicate listen.
    taken = {p for role in roles for p in role.values()}
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
    return tuple(ports)


def _config(d: Path, n: Nginx, cert: Path) -> str:
    chain = "\n    ".join(
        f"location = /chain/{i} {{ return 302 /chain/{i - 1}; }}" for i in range(1, CHAIN_MAX + 1))
    extra = "\n    ".join(f"listen 127.0.0.1:{p};" for p in n.extra)
    user = "user root;" if os.geteuid() == 0 else ""
    common = f"""
    root {n.root};
    location = /echo {{ return 200 "{_ECHO}"; }}
    location = /down {{ return 503; }}
    location = /chain/0 {{ return 200 "end of chain\\n"; }}
    {chain}"""
    return f"""
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  default_type text/html;
  access_log {n.access_log} combined;
  client_body_temp_path {d}/tmp-body;
  proxy_temp_path {d}/tmp-proxy;
  fastcgi_temp_path {d}/tmp-fastcgi;
  uwsgi_temp_path {d}/tmp-uwsgi;
  scgi_temp_path {d}/tmp-scgi;
  absolute_redirect off;
  keepalive_timeout 10;
  ssl_certificate {cert};
  ssl_certificate_key {cert};
  ssl_session_cache shared:tls:4m;
  server {{
    {_listen(n.http)}
    {_listen(n.https, " ssl")}
    {extra}
    ssl_protocols TLSv1.2 TLSv1.3;
    {common}
  }}
  server {{
    {_listen(n.https12, " ssl")}
    ssl_protocols TLSv1.2;
    ssl_session_tickets off;
    {common}
  }}
  server {{
    {_listen(n.proxy)}
    location / {{
      proxy_pass http://$http_host;
      proxy_set_header X-Via-Proxy yes;
      proxy_connect_timeout 2s;
    }}
  }}
}}
"""


def _wait_ready(proc: subprocess.Popen[bytes], n: Nginx, log: Path, deadline: float) -> None:
    pending = [(h, p) for role in (n.http, n.https, n.https12, n.proxy) for h, p in role.items()]
    pending += [("127.0.0.1", p) for p in n.extra]
    while pending:
        if proc.poll() is not None:
            text = log.read_text() if log.exists() else ""
            if proc.stderr is not None:
                text += proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"nginx exited with {proc.returncode}: {text}")
        host, port = pending[-1]
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pending.pop()
                continue
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx not listening on {host}:{port}") from None
        time.sleep(0.02)  # poll interval, bounded by the deadline above


@contextlib.contextmanager
def run_nginx(workdir: Path, *, extra_ports: int = 0, access_log: bool = False
              ) -> Iterator[Nginx]:
    """Start nginx in `workdir` (see module doc); stopped and reaped on exit."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    root = workdir / "www"
    root.mkdir()
    (root / "ok.html").write_bytes(OK_TEXT)
    (root / "wrong.html").write_bytes(WRONG_TEXT)
    (root / "big.bin").write_bytes(
        BIG_HEAD + b"x" * (BIG_SIZE - len(BIG_HEAD) - len(BIG_TAIL)) + BIG_TAIL)
    ca = trustme.CA()
    cert = workdir / "server.pem"
    ca.issue_cert(VIRTUALHOST, *HOSTS).private_key_and_cert_chain_pem.write_to_path(str(cert))
    http, https, https12, proxy = roles = [_ports() for _ in range(4)]
    n = Nginx(http=http, https=https, https12=https12, proxy=proxy,
              extra=_extra_ports(extra_ports, roles), root=root,
              access_log=workdir / "access.log" if access_log else Path("/dev/null"))
    conf = workdir / "nginx.conf"
    conf.write_text(_config(workdir, n, cert))
    log = workdir / "error.log"
    proc = subprocess.Popen([exe, "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_ready(proc, n, log, time.monotonic() + 15)
        yield n
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
