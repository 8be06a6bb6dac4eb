"""Kamailio on loopback for the sip checker tests: answers OPTIONS over UDP and TCP, IPv4 and IPv6.

The request-URI user picks the answer, so one server covers every row a real server can:
`nobody` gets 404 (the SIP analogue of a wrong `receive`), `keepalive` gets `200 Keepalive`
(another reason phrase), `slow` gets `100 Trying` before the 200, anything else `200 OK`.
Kamailio runs stateless (sl module only) with a throwaway config and runtime directory.
"""

from __future__ import annotations

import glob
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.protocols.faults import free_port
from tests.protocols.servers_tcp import HOSTS, Daemon, need, tcp_open, wait_until

_CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=1
tcp_children=1
auto_aliases=no
mpath="{mpath}"
{listen}
loadmodule "sl.so"
loadmodule "pv.so"

request_route {{
    if (method == "OPTIONS") {{
        if ($rU == "nobody") {{
            sl_send_reply("404", "Not Found");
            exit;
        }}
        if ($rU == "keepalive") {{
            sl_send_reply("200", "Keepalive");
            exit;
        }}
        if ($rU == "slow") {{
            sl_send_reply("100", "Trying");
        }}
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""


@dataclass(frozen=True)
class SipServer:
    port: int  # the same port for UDP and TCP, on 127.0.0.1 and ::1


def _module_dir() -> str:
    found = sorted(glob.glob("/usr/lib/*/kamailio/modules/sl.so"))
    if not found:
        pytest.skip("kamailio modules not found (see tests/deps/apt-f2.txt)")
    return str(Path(found[0]).parent)


def _answers_udp(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.connect((host, port))
            local = s.getsockname()
            via = f"[{local[0]}]" if ":" in host else local[0]
            s.send(f"OPTIONS sip:ready@{host} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {via}:{local[1]};branch=z9hG4bKready\r\n"
                   "From: <sip:ready>;tag=1\r\nTo: <sip:ready>\r\nCall-ID: ready\r\n"
                   "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".encode())
            return s.recv(65535).startswith(b"SIP/2.0 200")
        except OSError:
            return False


def _ready(port: int) -> bool:
    return all(tcp_open(h, port) and _answers_udp(h, port) for h in HOSTS)


@pytest.fixture(scope="module")
def sip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    kamailio = need("kamailio")
    tmp = tmp_path_factory.mktemp("kamailio")
    port = free_port()
    listen = "\n".join(f"listen={proto}:{'[::1]' if ':' in h else h}:{port}"
                       for h in HOSTS for proto in ("udp", "tcp"))
    config = tmp / "kamailio.cfg"
    config.write_text(_CONFIG.format(mpath=_module_dir(), listen=listen))
    # -DD: stay in the foreground (still forking workers); -E: log to stderr; small memory.
    daemon = Daemon.start("kamailio", [kamailio, "-f", str(config), "-DD", "-E", "-m", "16",
                                       "-M", "4", "-Y", str(tmp), "-P", str(tmp / "pid")],
                          tmp / "kamailio.log")
    try:
        try:
            wait_until(lambda: _ready(port), "kamailio", proc=daemon.proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{daemon.tail()}") from None
        yield SipServer(port)
    finally:
        daemon.stop()
