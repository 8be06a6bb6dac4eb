"""Scenarios about check types and services: each real is checked the same way by both daemons.

Placeholders: `{rs1}`/`{rs2}` are the lab's real-server hosts (nginx on :80, proftpd on :21),
`{work}` the scenario's folder (`state/`, `maint/`, `check.sh`, `fallback.sh`), `{closed}` a
loopback port nobody listens on; the server fixtures add their ports (see conftest).
"""

from __future__ import annotations

from tests.compat import differences as d
from tests.compat.model import START, TERM, Action, Declared, Scenario, Step

HEAD = "checktimeout=3\ncheckinterval=1\n"
V1 = "TCP {vip}:80 wrr"
BOTH = f"{V1}\n-> {{rs1}}:80 Masq 1\n-> {{rs2}}:80 Masq 2"
ONLY_RS2 = f"{V1}\n-> {{rs2}}:80 Masq 2"
CHURN = (d.COLD_START_CHURN,)


def start(table: str) -> Step:
    return Step(START, Action.NOTHING, table)


def term(table: str = "") -> Step:
    return Step(TERM, Action.TERM, table)


def lab_virtual(extra: str, *, port: int = 80) -> str:
    return (f"{HEAD}virtual={{vip}}:{port}\n\treal={{rs1}}:{port} masq 1\n"
            f"\treal={{rs2}}:{port} masq 2\n{extra}")


def stop_start(kind: str = "http", gone: str = ONLY_RS2, back: str = BOTH) -> tuple[Step, ...]:
    return (Step("stop-rs1", Action.STOP, gone, f"rs1:{kind}"),
            Step("start-rs1", Action.START, back, f"rs1:{kind}"))


def loopback(name: str, service: str, port: str, extra: str = "",
             servers: tuple[str, ...] = (), declared: tuple[Declared, ...] = (),
             perl_start: str = "") -> Scenario:
    """A service on loopback: one real that answers, one that refuses (stays out)."""
    config = (f"{HEAD}virtual={{vip}}:80\n\treal=127.0.0.1:{port} masq 1\n"
              f"\treal={{down_addr}}:{{closed}} masq 1\n\tchecktype=negotiate\n"
              f"\tservice={service}\n{extra}")
    perl_tables = tuple((START, x.name, perl_start) for x in declared if perl_start)
    return Scenario(name, config, (start(f"{V1}\n-> 127.0.0.1:{port} Masq 1"), term()),
                    (*CHURN, *declared), servers=servers, perl_tables=perl_tables)


NEGOTIATE_HTTP = '\tchecktype=negotiate\n\tservice=http\n\trequest="index.html"\n' \
                 '\treceive="Test Page"\n'

SCENARIOS = (
    Scenario("connect", lab_virtual("\tchecktype=connect\n"),
             (start(BOTH), *stop_start(),
              Step("stop-all", Action.STOP, V1, "rs1:http,rs2:http"),
              Step("start-all", Action.START, BOTH, "rs1:http,rs2:http"), term()), CHURN),
    Scenario("negotiate-http", lab_virtual(NEGOTIATE_HTTP),
             (start(BOTH), *stop_start(), term()), CHURN),
    loopback("negotiate-https", "https", "{https}",
             '\trequest="ok.html"\n\treceive="ldirectord-test-OK"\n', ("nginx_loopback",),
             (d.HTTPS_NO_VERIFY,), V1),
    Scenario("negotiate-ftp",
             lab_virtual('\tchecktype=negotiate\n\tservice=ftp\n\tlogin="anonymous"\n'
                         '\tpasswd="guest@example.com"\n\trequest="welcome.msg"\n'
                         '\treceive="Welcome"\n', port=21),
             (start(BOTH.replace(":80", ":21")),
              *stop_start("ftp", ONLY_RS2.replace(":80", ":21"), BOTH.replace(":80", ":21")),
              term()), CHURN),
    loopback("negotiate-smtp", "smtp", "{smtp}", servers=("smtp_server",)),
    loopback("negotiate-pop", "pop", "110", '\tlogin="checker"\n\tpasswd="checkpw"\n',
             ("dovecot_std",)),
    loopback("negotiate-imap", "imap", "143", servers=("dovecot_std",)),
    loopback("negotiate-ldap", "ldap", "{ldap}",
             '\trequest="dc=example,dc=com"\n\treceive="dc=example"\n', ("ldap_server",)),
    loopback("negotiate-nntp", "nntp", "{nntp}", servers=("nntp_server",)),
    Scenario("external",
             f"{HEAD}virtual={{vip}}:80\n\treal=10.0.2.1:80 masq 1\n\treal=10.0.2.2:80 masq 1\n"
             "\tchecktype=external\n\tcheckcommand={work}/check.sh\n",
             (start(f"{V1}\n-> 10.0.2.1:80 Masq 1\n-> 10.0.2.2:80 Masq 1"),
              Step("fail-1", Action.TOUCH, f"{V1}\n-> 10.0.2.2:80 Masq 1", "state/down-10.0.2.1"),
              Step("pass-1", Action.REMOVE, f"{V1}\n-> 10.0.2.1:80 Masq 1\n-> 10.0.2.2:80 Masq 1",
                   "state/down-10.0.2.1"), term()), CHURN),
    Scenario("on",
             f"{HEAD}virtual={{vip}}:80\n\treal=10.0.2.1:80 masq 1\n\treal=10.0.2.2:80 masq 3\n"
             "\tchecktype=on\n",
             (start(f"{V1}\n-> 10.0.2.1:80 Masq 1\n-> 10.0.2.2:80 Masq 3"), term()), CHURN,
             checked=False),
    Scenario("off",
             f"{HEAD}virtual={{vip}}:80\n\treal=10.0.2.1:80 masq 1\n\tchecktype=off\n"
             "\tfallback=10.0.2.9:80 masq\n",
             (start(V1), term()), (*CHURN, d.OFF_ACTIVATES_NOTHING), checked=False,
             perl_tables=((START, d.OFF_ACTIVATES_NOTHING.name, f"{V1}\n-> 10.0.2.9:80 Masq 1"),)),
    Scenario("combined-3",
             lab_virtual('\tchecktype=3\n\tservice=http\n\trequest="index.html"\n'
                         '\treceive="Test Page"\n'),
             (start(BOTH), *stop_start(), term()), CHURN),
    Scenario("per-real-request",
             f"{HEAD}virtual={{vip}}:80\n\treal={{rs1}}:80 masq 1 \"index.html\", \"Test Page\"\n"
             "\treal={rs2}:80 masq 2 \"index.html\", \"No Such Text\"\n"
             "\tchecktype=negotiate\n\tservice=http\n\treceive=\"Page\"\n",
             (start(f"{V1}\n-> {{rs1}}:80 Masq 1"), term()), CHURN),
    Scenario("per-real-request-slash",
             f"{HEAD}virtual={{vip}}:80\n\treal={{rs1}}:80 masq 1 \"index.html\", \"Test Page\"\n"
             "\treal={rs2}:80 masq 2 \"/index.html\", \"No Such Text\"\n"
             "\tchecktype=negotiate\n\tservice=http\n\treceive=\"Page\"\n",
             (start(f"{V1}\n-> {{rs1}}:80 Masq 1"), term()),
             (*CHURN, d.SLASH_REQUEST_KEEPS_RECEIVE),
             perl_tables=((START, d.SLASH_REQUEST_KEEPS_RECEIVE.name, BOTH),)),
    Scenario("firewall-mark",
             f"{HEAD}virtual=7\n\treal={{rs1}}:80 masq 1\n\treal={{rs2}}:80 masq 2\n"
             "\tchecktype=connect\n",
             (start("FWM 7 wrr\n-> {rs1}:80 Masq 1\n-> {rs2}:80 Masq 2"),
              *stop_start(gone="FWM 7 wrr\n-> {rs2}:80 Masq 2",
                          back="FWM 7 wrr\n-> {rs1}:80 Masq 1\n-> {rs2}:80 Masq 2"), term()),
             CHURN),
    Scenario("ipv6",
             f"{HEAD}virtual6=[fd00::1]:80\n\treal6=[::1]:{{http6}} masq 1\n"
             "\treal6=[::1]:{closed} masq 1\n\tchecktype=connect\n",
             (start("TCP [fd00::1]:80 wrr\n-> [::1]:{http6} Masq 1"), term()), CHURN,
             servers=("nginx_loopback",)),
    Scenario("persistent-netmask-scheduler",
             lab_virtual("\tchecktype=connect\n\tscheduler=sh\n\tpersistent=300\n"
                         "\tnetmask=255.255.255.0\n"),
             (start(BOTH.replace("wrr", "sh persistent 300 mask 255.255.255.0")), term()),
             CHURN),
)
