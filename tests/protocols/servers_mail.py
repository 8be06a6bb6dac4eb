"""Real mail servers for the checker tests: dovecot (IMAP, IMAPS, POP3, POP3S) and exim4 (SMTP).

Each runs in the foreground from a throwaway config in a temporary directory, listening on
127.0.0.1 and ::1 on free ports, and is stopped when the tests using it are done. Import the
fixtures into a test module (`from tests.protocols.servers_mail import dovecot`).

exim4 is the SMTP server: unlike postfix it runs from one self-contained config file given
on the command line (`exim4 -bdf -C`), and unlike opensmtpd it needs no fixed control socket
or queue path, so it does not touch the system's mail setup.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.protocols.faults import free_port

HOSTS = ("127.0.0.1", "::1")
START_DEADLINE = 20.0
TEST_USER, TEST_PASSWORD = "bob", "s3cret pass"
#: More dovecot users whose passwords need IMAP quoting (backslash, quote) or literals (UTF-8).
EXTRA_USERS = {"quoted": 'a "quoted" \\ pass', "literal": "pässwörd ünïcode"}


def free_dual_port() -> int:
    """A port that was free on both 127.0.0.1 and ::1 a moment ago."""
    for _ in range(50):
        port = free_port("127.0.0.1")
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            try:
                s.bind(("::1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def run_daemon(argv: Sequence[str], ports: Sequence[int], log: Path,
               env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Start `argv` (foreground), wait until every port accepts on both loopbacks, stop it."""
    with log.open("ab") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_DEADLINE
        pending = [(h, p) for p in ports for h in HOSTS]
        while pending:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} not listening on {pending} after "
                                   f"{START_DEADLINE}s: {log.read_text(errors='replace')[-2000:]}")
            pending = [(h, p) for h, p in pending if not _accepts(h, p)]
            if pending:
                time.sleep(0.05)  # polling interval while waiting for readiness
        yield proc
    finally:
        # The whole process group: a daemon's children (and a wrapper's) go with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def world_readable_tmpdir(prefix: str) -> Iterator[Path]:
    """A temporary directory that unprivileged server processes (nobody, dovenull) can enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed server certificate and key (trustme), as PEM files."""
    cert = trustme.CA().issue_cert("mail.ldirectord.test", "127.0.0.1", "::1")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return cert_path, key_path


@dataclass(frozen=True)
class Dovecot:
    imap: int
    imaps: int
    pop3: int
    pop3s: int


_DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
instance_name = ldirectord-test
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1, ::1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
# failed logins are answered at once (default: after 2 s), so tests can use short timeouts
auth_failure_delay = 0
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
mail_location = maildir:{d}/mail/%u/Maildir
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
# No growing "auth penalty" delay for a client IP after a wrong password (tests send
# some): the auth process cannot reach this socket and turns penalties off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """dovecot serving IMAP, IMAPS, POP3 and POP3S with user TEST_USER / TEST_PASSWORD."""
    with world_readable_tmpdir("ldirectord-dovecot-") as d:
        write_cert(d)
        (d / "mail").mkdir(mode=0o777)
        (d / "mail").chmod(0o777)  # the mail processes run as nobody
        users = {TEST_USER: TEST_PASSWORD, **EXTRA_USERS}
        (d / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in users.items()),
                                 encoding="utf-8")
        ports = Dovecot(*(free_dual_port() for _ in range(4)))
        conf = d / "dovecot.conf"
        conf.write_text(_DOVECOT_CONF.format(d=d, imap=ports.imap, imaps=ports.imaps,
                                             pop3=ports.pop3, pop3s=ports.pop3s))
        with run_daemon(["dovecot", "-F", "-c", str(conf)],
                        [ports.imap, ports.imaps, ports.pop3, ports.pop3s], d / "stdout.log"):
            _wait_for_pop_login(ports.pop3, d / "dovecot.log")
            yield ports


def _pop_login(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s, \
                s.makefile("rwb") as f:
            f.readline()
            f.write(f"USER {TEST_USER}\r\nPASS {TEST_PASSWORD}\r\nQUIT\r\n".encode())
            f.flush()
            return [f.readline() for _ in range(2)][1].startswith(b"+OK")
    except OSError:
        return False


def _wait_for_pop_login(port: int, log: Path) -> None:
    """Wait until logins work: dovecot starts its auth process on the first login."""
    deadline = time.monotonic() + START_DEADLINE
    while not _pop_login(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot logins fail: {log.read_text(errors='replace')[-2000:]}")


_EXIM_CONF = """\
keep_environment =
primary_hostname = mx.ldirectord.test
spool_directory = {d}/spool
log_file_path = {d}/%slog
pid_file_path = {d}/exim.pid
local_interfaces = <; 127.0.0.1 ; ::1
daemon_smtp_ports = {port}
acl_smtp_rcpt = accept
tls_advertise_hosts =
# log sessions that end without mail, with the client's EHLO/HELO name
log_selector = +smtp_no_mail
begin routers
begin transports
"""


@dataclass(frozen=True)
class Exim:
    port: int
    mainlog: Path


@pytest.fixture(scope="module")
def exim() -> Iterator[Exim]:
    """exim4 accepting SMTP on both loopbacks; no mail is delivered."""
    exim_bin = shutil.which("exim4") or shutil.which("exim")
    if exim_bin is None:
        pytest.fail("exim4 is not installed (tests/deps/apt-mail.txt lists exim4-daemon-light)")
    with world_readable_tmpdir("ldirectord-exim-") as d:
        port = free_dual_port()
        # exim refuses a -C config not owned by root, and writes its logs as its own user.
        conf = d / "exim.conf"
        conf.write_text(_EXIM_CONF.format(d=d, port=port))
        conf.chmod(0o644)
        logdir_owner = "Debian-exim"
        (d / "spool").mkdir()
        for p in (d, d / "spool"):
            shutil.chown(p, user=logdir_owner, group=logdir_owner)
        with run_daemon([exim_bin, "-bdf", "-C", str(conf)], [port], d / "stdout.log"):
            yield Exim(port, d / "mainlog")
