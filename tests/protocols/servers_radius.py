"""A real FreeRADIUS for the RADIUS checker tests.

FreeRADIUS runs from a minimal throwaway radiusd.conf (the `files` and `pap` modules only: the
packaged configuration needs certificates and dozens of modules a PAP login never touches),
with clients 127.0.0.1 and ::1 sharing SECRET and one user, on a free UDP port of both.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.protocols.servers_ldap import daemon, free_port_both

SECRET = "testing123"
USER = "checker"
PASSWORD = "radius-pw"
WELCOME = "Welcome, checker"
LONG_USER = "longpw"
LONG_PASSWORD = "a-password-of-three-blocks-0123456789-xyz"  # 41 bytes: 3 hiding blocks

_CONF = """\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
libdir = /usr/lib/freeradius
name = freeradius
logdir = {dir}
raddbdir = {dir}
radacctdir = {dir}
confdir = {dir}
modconfdir = {dir}
run_dir = {dir}
db_dir = {dir}
pidfile = {dir}/radiusd.pid
max_request_time = 10
cleanup_delay = 2
max_requests = 1024
hostname_lookups = no
log {{
	destination = stderr
	auth = yes
}}
security {{
	reject_delay = 0
	allow_vulnerable_openssl = yes
}}
client v4 {{
	ipaddr = 127.0.0.1
	secret = {secret}
}}
client v6 {{
	ipv6addr = ::1
	secret = {secret}
}}
modules {{
	files {{
		filename = {dir}/users
	}}
	pap {{
	}}
}}
server default {{
	listen {{
		type = auth
		ipaddr = 127.0.0.1
		port = {port}
	}}
	listen {{
		type = auth
		ipv6addr = ::1
		port = {port}
	}}
	authorize {{
		files
		pap
	}}
	authenticate {{
		Auth-Type PAP {{
			pap
		}}
	}}
	post-auth {{
		Post-Auth-Type REJECT {{
			update reply {{
				Reply-Message := "Denied"
			}}
		}}
	}}
}}
"""

_USERS = f"""\
{USER} Cleartext-Password := "{PASSWORD}"
	Reply-Message = "{WELCOME}"
{LONG_USER} Cleartext-Password := "{LONG_PASSWORD}"
"""


@dataclass(frozen=True)
class Radiusd:
    """Where the test FreeRADIUS listens (UDP)."""

    port: int


@pytest.fixture(scope="session", name="radiusd")
def radiusd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radiusd]:
    """FreeRADIUS authenticating USER/PASSWORD for clients 127.0.0.1 and ::1."""
    work = tmp_path_factory.mktemp("radiusd")
    port = free_port_both()
    (work / "radiusd.conf").write_text(_CONF.format(dir=work, secret=SECRET, port=port))
    (work / "users").write_text(_USERS)
    (work / "dictionary").write_text("")  # the packaged dictionaries are read anyway
    argv = ["freeradius", "-X", "-d", str(work)]
    ports = [(host, port, socket.SOCK_DGRAM) for host in ("127.0.0.1", "::1")]
    with daemon(argv, ports, work / "radiusd.log"):
        yield Radiusd(port)
