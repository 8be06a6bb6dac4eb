"""Fixtures for the side-by-side runs: the lab, loopback protocol servers, skip reasons.

The runs need the IPVS VM (root, a kernel with IPVS, ipvsadm) and the Perl original unpacked
by tests/compat/setup.sh on the host beforehand; without them every scenario is skipped with
the reason. Protocol servers are the checker tests' own fixtures (tests/protocols), started
once per session; IMAP and POP3 come from the same dovecot setup on their standard ports,
because the original's IMAP check always probes port 143 when the real is an IP address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.harness import OURS, PERL_LDIRECTORD
from tests.lab import Kind, Lab
from tests.protocols import servers_mail
from tests.protocols.servers_http import run_nginx
from tests.protocols.servers_ldap import Slapd
from tests.protocols.servers_ldap import slapd_fixture as slapd_fixture
from tests.protocols.servers_mail import Exim
from tests.protocols.servers_mail import exim as exim
from tests.protocols.servers_nntp import Leafnode
from tests.protocols.servers_nntp import leafnode as leafnode

CLOSED_PORT = "9"  # discard: nothing listens on it in the VM
POP_USER, POP_PASSWORD = "checker", "checkpw"  # no spaces: the scenario's config is simple


def skip_reason() -> str | None:
    if not Path("/proc/net/ip_vs").exists():
        return "no IPVS in this kernel: run inside tests/vm/ipvs-vm"
    if os.geteuid() != 0:
        return "the side-by-side runs need root"
    if shutil.which("ipvsadm", path="/sbin:/usr/sbin") is None:
        return "ipvsadm is not installed (the Perl ldirectord needs it)"
    if not PERL_LDIRECTORD.exists():
        return "the Perl ldirectord is not unpacked: run tests/compat/setup.sh on the host first"
    if not OURS.exists():
        return f"{OURS} is missing (pip install -e .)"
    return None


def shard() -> tuple[int, int]:
    """`COMPAT_SHARD=i/n`: run the i-th of n interleaved slices of the scenarios (1/1: all)."""
    text = os.environ.get("COMPAT_SHARD", "1/1")
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"COMPAT_SHARD={text!r}: expected i/n, e.g. 1/2") from None
    if not 1 <= i <= n:
        raise pytest.UsageError(f"COMPAT_SHARD={text!r}: i must be between 1 and n")
    return i, n


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = skip_reason()
    i, n = shard()
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    scenario = 0
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.compat)
            if item.name.startswith("test_side_by_side["):
                scenario += 1
                if scenario % n != i % n:  # every n-th scenario, starting at the i-th
                    dropped.append(item)
                    continue
                if reason:
                    item.add_marker(pytest.mark.skip(reason=reason))
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """Two real-server hosts, rs1 and rs2, each with nginx on :80 and proftpd on :21."""
    for module in ("ip_vs_wrr", "ip_vs_sh", "ip_vs_rr"):
        subprocess.run(["modprobe", module], capture_output=True, check=False)
    with Lab(prefix="ldcmp") as the_lab:
        for name in ("rs1", "rs2"):
            host = the_lab.add_host(name)
            the_lab.start(host, Kind.HTTP)
            the_lab.start(host, Kind.FTP)
        _warm_up()
        yield the_lab


def _warm_up() -> None:
    """Load both daemons once, so the first scenario does not pay for a cold file cache."""
    cfg = Path(__file__).with_name("warmup.cf")
    subprocess.run([str(OURS), "-t", str(cfg)], capture_output=True, check=False)
    subprocess.run(["perl", "-c", str(PERL_LDIRECTORD)], capture_output=True, check=False)


@pytest.fixture(scope="session")
def base_values(lab: Lab) -> dict[str, str]:
    hosts = {h.name: h.address for h in lab.hosts()}
    return {"rs1": hosts["rs1"], "rs2": hosts["rs2"], "vip": "10.0.0.1", "vip2": "10.0.0.2",
            "down_addr": "127.0.0.2", "closed": CLOSED_PORT}


@pytest.fixture(scope="session")
def nginx_loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with run_nginx(tmp_path_factory.mktemp("nginx")) as n:
        yield {"https": str(n.https["127.0.0.1"]), "http6": str(n.http["::1"])}


@pytest.fixture(scope="module")
def smtp_server(exim: Exim) -> dict[str, str]:
    return {"smtp": str(exim.port)}


@pytest.fixture(scope="session")
def dovecot_std() -> Iterator[dict[str, str]]:
    """dovecot on the standard IMAP and POP3 ports of 127.0.0.1 (no TLS listeners used)."""
    with servers_mail.world_readable_tmpdir("ldirectord-compat-dovecot-") as d:
        servers_mail.write_cert(d)
        (d / "mail").mkdir()
        (d / "mail").chmod(0o777)
        (d / "users").write_text(f"{POP_USER}:{{PLAIN}}{POP_PASSWORD}\n")
        conf = d / "dovecot.conf"
        conf.write_text(servers_mail._DOVECOT_CONF.format(d=d, imap=143, imaps=993, pop3=110,
                                                          pop3s=995))
        with servers_mail.run_daemon(["dovecot", "-F", "-c", str(conf)], [143, 110],
                                     d / "stdout.log"):
            yield {}


@pytest.fixture(scope="module")
def ldap_server(slapd: Slapd) -> dict[str, str]:
    return {"ldap": str(slapd.ldap_port)}


@pytest.fixture(scope="module")
def nntp_server(leafnode: Leafnode) -> dict[str, str]:
    return {"nntp": str(leafnode.port)}
