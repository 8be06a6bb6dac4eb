"""conf/ldirectord.cf.reference, written from the rows of `directives.py`.

    python -m ldirectord.config.reference > conf/ldirectord.cf.reference

Every row is shown with its doc text and example value: the global ones in column 0, the
per-virtual ones in a first example section; further examples follow as written here. A
test holds the committed file to what `render()` writes.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Final

from ldirectord.config.directives import DIRECTIVES, Directive, Scope

WIDTH: Final = 88
_RULE: Final = "# " + "-" * (WIDTH - 1)

HEADER: Final = """\
# ldirectord.cf.reference: every directive, with its default and a short explanation.
# Generated from the table in ldirectord/config/directives.py: edit that, then run
#   python -m ldirectord.config.reference > conf/ldirectord.cf.reference
#
# Check it with:  ldirectord -t ldirectord.cf.reference
#
# Syntax
#   - Global directives start in column 0:  name=value  (spaces around '=' are allowed).
#   - A virtual section starts with a column-0 "virtual=" or "virtual6=" line; the lines
#     that belong to it are indented by at least 4 spaces or a TAB. A blank line, or a
#     line indented by less, ends the section.
#   - '#' starts a comment on a line of its own. Inside a virtual section everything from
#     '#' to the end of the line is a comment (so '#' cannot be part of a value there);
#     after a global directive it is NOT a comment: "quiescent=yes # x" is an error.
#   - Directive names and yes/no values are lower case.
#   - Host names are resolved once, when the file is read (first address of the family);
#     ports may be numbers or service names from /etc/services.
#   - IPv4 addresses are four decimal numbers without leading zeros (010.0.0.1, 0x7f.1
#     and 127.1 are errors). Numbers are plain: timeouts and intervals are seconds and
#     may have a fraction (1.5), counts are whole numbers; no units, no signs.
#   - Addresses below are documentation examples: use your own.
"""

VIRTUAL_INTRO: Final = """\
# virtual=address:port   (address: IPv4 literal or host name; port: number or service)
# A web farm with an HTTP check: GET /healthz must answer 2xx with a body matching
# the receive regular expression (Perl syntax). Every per-virtual directive is shown.
virtual=192.168.10.1:80"""

EXAMPLES: Final = r"""
# A mail service: the smtp check needs no request or receive.
virtual=192.168.10.1:25
    real=192.168.10.5:25 gate
    real=192.168.10.6:25 gate
    service=smtp
    scheduler=rr

# An FTP service. service=ftp fills an empty login with "anonymous" and an empty passwd
# with ldirectord@<host name>; the check logs in and, if request is set, fetches it.
virtual=192.168.10.1:ftp
    real=192.168.10.7:21 masq
    service=ftp
    login="anonymous"
    passwd="ldirectord@example.com"
    request="/welcome.msg"
    receive="(?i)welcome"

# A UDP DNS service (the protocol is udp by default when the port is written 53 or
# "domain"). The check resolves request and wants an answer matching receive.
virtual=192.168.10.1:53
    real=192.168.10.8:53 gate
    service=dns
    request="www.example.com"
    receive="192\.168\.10\.1"
    protocol=udp
    # One-packet scheduling (UDP only).
    ops=yes

# A database check: login, passwd, database and the SQL in request are needed.
virtual=192.168.10.1:3306
    real=192.168.10.9:3306 gate
    service=mysql
    login="monitor"
    passwd="secret"
    database="shop"
    request="SELECT 1"

# A RADIUS check: Access-Accept for login/passwd with the shared secret.
virtual=192.168.10.1:1812
    real=192.168.10.10:1812 gate
    service=radius
    protocol=udp
    login="probe"
    passwd="probe-password"
    secret="shared-secret"

# An external check: checkcommand is run with  <virtual ip> <port> <real ip> <port>
# (no shell; exit status 0 means up). external-perl is accepted the same way.
virtual=192.168.10.1:8080
    real=192.168.10.11:8080 masq
    checktype=external
    checkcommand="/usr/local/libexec/check-app"

# A firewall-mark service (iptables -t mangle ... -j MARK --set-mark 7). Reals without
# a port; the check port comes from checkport or the service.
virtual=7
    real=192.168.10.12 gate
    real=192.168.10.13 gate
    checktype=connect
    checkport=443
    protocol=fwm
    # Accepted and ignored (a leftover of the original).
    load="none"

# IPv6: virtual6= with the address in brackets, real6= for its real servers.
virtual6=[2001:db8::1]:443
    real6=[2001:db8::10]:443 gate
    real6=[2001:db8::11]:443 gate
    service=https
    netmask=64
    persistent=60
    fallback6=[2001:db8::99]:443

# An IPv6 firewall-mark service.
virtual6=8
    real6=[2001:db8::12] gate
    checktype=ping
    # checkcount=1 (deprecated: prefer failurecount)
"""


def _section(title: str) -> list[str]:
    return ["", _RULE, f"# {title}", _RULE, ""]


def _doc(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - len(indent) - 2, initial_indent=f"{indent}# ",
                         subsequent_indent=f"{indent}# ", break_on_hyphens=False)


def _lines(row: Directive, value: str, indent: str, commented: bool) -> list[str]:
    mark = "#" if commented else ""
    return [f"{indent}{mark}{row.name}={v}" for v in value.split("\n")]


def render() -> str:
    """The whole reference file."""
    out = HEADER.splitlines()
    out += _section("Global directives")
    refused = [r.name for r in DIRECTIVES if r.refused]
    for row in DIRECTIVES:
        if row.scope is not Scope.VIRTUAL and not row.refused:
            out += [*_doc(row.doc, ""), *_lines(row, row.example, "", row.commented)]
    out += _doc(f"Refused, with a message that names what replaced them: "
                f"{', '.join(refused)}.", "")
    out += _section("Virtual services")
    out += VIRTUAL_INTRO.splitlines()
    for row in DIRECTIVES:
        if row.scope is Scope.VIRTUAL and row.example:
            out += [*_doc(row.doc, "    "), *_lines(row, row.example, "    ", row.commented)]
    out += _doc("Global directives that a virtual section may set for itself (they "
                "override the global value):", "    ")
    for row in DIRECTIVES:
        own = row.virtual_example
        if row.scope is Scope.BOTH and not row.refused and own != "":
            out += (_lines(row, row.example, "    ", row.commented) if own is None
                    else _lines(row, own, "    ", False))
    out.append("")
    out += EXAMPLES.strip("\n").splitlines()
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
