"""A real slapd for the LDAP/LDAPS checker tests, and helpers the DNS and RADIUS tests share.

slapd runs from a throwaway slapd.conf (mdb database, a two-entry tree and a bind user), on
free ports of 127.0.0.1 and ::1, plain and TLS (a self-signed certificate from trustme).
`daemon()` starts a server program, waits until its ports are bound (never a fixed sleep)
and stops it; the DNS and RADIUS tests use it too.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.protocols.faults import free_port

SUFFIX = "dc=example,dc=com"
PEOPLE = f"ou=people,{SUFFIX}"
BIND_DN = f"uid=checker,{PEOPLE}"
BIND_PW = "s3cret-pw"
STARTUP_TIMEOUT = 20.0


def _port_bound(port: int, kind: int, host: str) -> bool:
    """Whether something listens on host:port: a TCP connect, or a bound UDP socket in /proc."""
    if kind == socket.SOCK_STREAM:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex((host, port)) == 0
    table = "/proc/net/udp6" if ":" in host else "/proc/net/udp"
    wanted = f":{port:04X}"
    with open(table) as f:
        return any(line.split()[1].endswith(wanted) for line in f.readlines()[1:])


@contextlib.contextmanager
def daemon(argv: Sequence[str], ports: Sequence[tuple[str, int, int]], log: Path,
           cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` until the block ends; wait for every (host, port, SOCK_*) to be bound first."""
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is not installed (see tests/deps/apt-f1.txt)")
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        pending = list(ports)
        while pending:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"{argv[0]} did not come up (exit {proc.returncode}):\n{tail}")
            pending = [p for p in pending if not _port_bound(p[1], p[2], p[0])]
            if pending:
                time.sleep(0.05)  # polling the condition, with the deadline above
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Slapd:
    """Where the test slapd listens."""

    ldap_port: int
    ldaps_port: int


_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCertificateFile {dir}/server.pem
TLSCertificateKeyFile {dir}/server.key
access to attrs=userPassword by anonymous auth by * none
access to * by * read
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw "admin-pw"
directory {dir}/db
"""

_LDIF = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {BIND_DN}
objectClass: inetOrgPerson
uid: checker
cn: Checker
sn: Checker
userPassword: {BIND_PW}
"""


@pytest.fixture(scope="session", name="slapd")
def slapd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """slapd with the example tree on ldap:// and ldaps:// of 127.0.0.1 and [::1]."""
    work = tmp_path_factory.mktemp("slapd")
    (work / "db").mkdir()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "::1", "ldap.test")
    cert.private_key_pem.write_to_path(str(work / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(work / "server.pem"))
    os.chmod(work / "server.key", 0o600)
    conf = work / "slapd.conf"
    conf.write_text(_CONF.format(dir=work, suffix=SUFFIX))
    (work / "tree.ldif").write_text(_LDIF)
    subprocess.run(["slapadd", "-f", str(conf), "-l", str(work / "tree.ldif")], check=True,
                   capture_output=True)
    ldap_port = free_port_both()
    ldaps_port = free_port_both()
    urls = " ".join(f"{scheme}://{host}:{port}/"
                    for scheme, port in (("ldap", ldap_port), ("ldaps", ldaps_port))
                    for host in ("127.0.0.1", "[::1]"))
    ports = [(host, port, socket.SOCK_STREAM)
             for port in (ldap_port, ldaps_port) for host in ("127.0.0.1", "::1")]
    argv = ["slapd", "-h", urls, "-f", str(conf), "-d", "0"]
    with daemon(argv, ports, work / "slapd.log"):
        yield Slapd(ldap_port, ldaps_port)


def free_port_both() -> int:
    """A port that was free for TCP and UDP on both 127.0.0.1 and ::1 a moment ago."""
    for _ in range(50):
        port = free_port("127.0.0.1")
        try:
            for host, kind in itertools.product(("127.0.0.1", "::1"),
                                                (socket.SOCK_STREAM, socket.SOCK_DGRAM)):
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(family, kind) as s:
                    s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1")
