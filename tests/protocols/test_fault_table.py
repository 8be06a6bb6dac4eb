"""The failure matrix every negotiate checker shares: refused, misbehaving peers, time bound.

One table, one row per service and peer behaviour (faults.Row): nothing listening, a black
hole, a peer that stalls, resets, closes, or sends garbage or far too much. Each row runs
against IPv4 and IPv6 loopback inside the leak guard and is held to its time bound. The
rows a real server produces (up, wrong password, wrong receive) stay with each checker's
own tests, against the real server program.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import regex

from checkers.base import Checker, CheckSpec, timed_out
from checkers.ftp import check_ftp
from checkers.imap import check_imap, check_imaps
from checkers.nntp import check_nntp
from checkers.pop import check_pop, check_pops
from checkers.simpletcp import check_simpletcp
from checkers.sip import check_sip
from checkers.smtp import check_smtp
from checkers.sql import check_mysql, check_pgsql
from ldirectord.config.model import IpvsProtocol, Service
from tests.checks_doc import documented
from tests.protocols.faults import (
    BLACKHOLE,
    Close,
    Recv,
    RecvLine,
    Refused,
    Reset,
    Row,
    Send,
    Stall,
    cancel_ends_promptly,
    garbage,
    no_leaks,
    oversized,
    rows,
    scripted_server,
)
from tests.protocols.servers_sql import DATABASE, PASSWORD, USER
from tests.protocols.servers_tcp import HOSTS, udp_peer

REFUSED = "connection refused"

# --- SQL: MySQL and PostgreSQL ---------------------------------------------------------

SQL = 1.5
MYSQL = CheckSpec(service=Service.MYSQL, login=USER, passwd=PASSWORD, database=DATABASE,
                  request="/SELECT id FROM backends WHERE enabled = 1", negotiatetimeout=SQL)
PGSQL = replace(MYSQL, service=Service.PGSQL)
#: The start of a MySQL server greeting (length 0x4a, sequence 0, protocol 10, version...).
MYSQL_GREETING = b"\x4a\x00\x00\x00\x0a5.5.5-10.11"
LOST = "MySQL error 2013: Lost connection to MySQL server"
#: AuthenticationOk and ReadyForQuery: a server that lets anyone in, then stalls on the query.
TRUSTING = b"R\x00\x00\x00\x08\x00\x00\x00\x00" + b"Z\x00\x00\x00\x05I"
NO_TLS = [Recv(), Send(b"N"), Recv()]  # refuse TLS ("N"), take the startup message
PG_ERROR = "PostgreSQL error: "

SQL_ROWS = rows(
    "mysql", check_mysql, MYSQL,
    ("refused", Refused(), REFUSED),
    ("blackhole", BLACKHOLE, timed_out(SQL)),
    ("stall", [Send(MYSQL_GREETING), Stall()], timed_out(SQL)),
    ("reset", [Send(MYSQL_GREETING), Reset()], LOST),
    ("garbage", [garbage(), Close()], "MySQL error"),
    ("oversized", [oversized(), Close()], "MySQL error"),
    ("silent-close", [Close()], LOST),
) + rows(
    "pgsql", check_pgsql, PGSQL,
    ("refused", Refused(), REFUSED),
    ("blackhole", BLACKHOLE, timed_out(SQL)),
    ("stall-startup", [*NO_TLS, Stall()], timed_out(SQL)),
    ("stall-query", [*NO_TLS, Send(TRUSTING), Recv(), Stall()], timed_out(SQL)),
    ("reset-startup", [*NO_TLS, Reset()], PG_ERROR),
    ("reset-query", [*NO_TLS, Send(TRUSTING), Recv(), Reset()], PG_ERROR),
    ("garbage", [Recv(), garbage(), Close()], PG_ERROR),
    ("oversized", [*NO_TLS, oversized(), Close()], PG_ERROR),
    ("silent-close", [Recv(), Close()], PG_ERROR),
)

# --- line dialogs: IMAP, POP, NNTP -----------------------------------------------------

LINE = 1.0
IMAP = CheckSpec(Service.IMAP, negotiatetimeout=LINE)
IMAP_USER = replace(IMAP, login="ldirectord", passwd="secret")
IMAP_GREETING = Send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
POP = CheckSpec(Service.POP, negotiatetimeout=LINE)
POP_USER = replace(POP, login="ldirectord", passwd="secret")
POP_GREETING = Send(b"+OK ready\r\n")
NNTP = CheckSpec(Service.NNTP, negotiatetimeout=LINE)

DIALOG_ROWS = rows(
    "imap", check_imap, IMAP,
    ("refused", Refused(), f"IMAP: {REFUSED}", False, IMAP_USER),
    ("blackholed", BLACKHOLE, f"IMAP: {timed_out(LINE)}"),
    ("stalled-after-login", [IMAP_GREETING, RecvLine(), Stall()], f"IMAP: {timed_out(LINE)}",
     False, IMAP_USER),
    ("reset-after-login", [IMAP_GREETING, RecvLine(), Reset()], "IMAP: connection", False,
     IMAP_USER),
    ("stalled-mid-reply",
     [IMAP_GREETING, RecvLine(), Send(b"* CAPABILITY IMAP4rev1\r\n"), Stall()],
     f"IMAP: {timed_out(LINE)}", False, IMAP_USER),
    ("garbage-greeting", [garbage()], "IMAP greeting: "),
    ("oversized-greeting", [oversized(b"* OK ")], "IMAP: reply line longer than"),
    ("bye-greeting", [Send(b"* BYE overloaded\r\n")], "IMAP greeting: * BYE overloaded"),
    # Already authenticated: up without sending LOGIN; a LOGOUT that gets no answer is fine.
    ("preauth", [Send(b"* PREAUTH welcome\r\n"), RecvLine(), Stall()],
     "IMAP * PREAUTH welcome", True, IMAP_USER),
) + rows(
    "imaps", check_imaps, IMAP,
    ("refused", Refused(), f"IMAPS: {REFUSED}", False, IMAP_USER),
    ("stalled-handshake", [Stall()], f"IMAPS: {timed_out(LINE)}"),
    ("garbage-handshake", [garbage()], "IMAPS: TLS handshake failed: "),
) + rows(
    "pop", check_pop, POP,
    # Part A §6: unlike the original, a POP check without login is down when nobody answers.
    ("refused", Refused(), f"POP: {REFUSED}"),
    ("refused-login", Refused(), f"POP: {REFUSED}", False, POP_USER),
    ("blackholed", BLACKHOLE, f"POP: {timed_out(LINE)}"),
    ("stalled-after-user", [POP_GREETING, RecvLine(), Stall()], f"POP: {timed_out(LINE)}",
     False, POP_USER),
    ("reset-after-user", [POP_GREETING, RecvLine(), Reset()], "POP: connection", False,
     POP_USER),
    ("reset-after-pass", [POP_GREETING, RecvLine(), Send(b"+OK\r\n"), RecvLine(), Reset()],
     "POP: connection", False, POP_USER),
    ("garbage-greeting", [garbage()], "POP greeting: "),
    ("oversized-greeting", [oversized(b"+OK ")], "POP: reply line longer than"),
    ("err-greeting", [Send(b"-ERR maintenance\r\n")], "POP greeting: -ERR maintenance"),
) + rows(
    "pops", check_pops, POP,
    ("stalled-handshake", [Stall()], f"POPS: {timed_out(LINE)}"),
    ("garbage-handshake", [garbage()], "POPS: TLS handshake failed: "),
) + rows(
    "nntp", check_nntp, NNTP,
    ("refused", Refused(), f"NNTP: {REFUSED}"),
    ("blackholed", BLACKHOLE, f"NNTP: {timed_out(LINE)}"),
    # A banner sent in pieces, never finished.
    ("stalled-mid-banner", [Send(b"200 news.example"), Stall()], f"NNTP: {timed_out(LINE)}"),
    ("reset", [Reset()], "NNTP: connection"),
    ("closed", [Close()], "NNTP: connection closed by server"),
    ("garbage-banner", [garbage()], "NNTP banner: "),
    ("oversized-banner", [oversized(b"200 ")], "NNTP: reply line longer than"),
    ("400-banner", [Send(b"400 service temporarily unavailable\r\n")], "NNTP banner: 400"),
    ("reset-after-quit", [Send(b"201 news.example.test ready (no posting)\r\n"), RecvLine(),
                          Reset()], "NNTP 201 news.example.test", True),
    # The QUIT goes unanswered: the banner decided, and the check stays within its time.
    ("quit-unanswered", [Send(b"200 news.example.test\r\n"), RecvLine(), Stall()],
     "NNTP 200 news.example.test", True),
)

# --- library dialogs: SMTP, FTP --------------------------------------------------------

SMTP = CheckSpec(Service.SMTP, negotiatetimeout=LINE)
SMTP_GREETING = Send(b"220 mx.example.test ESMTP\r\n")
EHLO_REFUSED = Send(b"500 5.5.1 command unrecognized\r\n")
FTP_TIME = 2.0
FTP = CheckSpec(Service.FTP, login="ldirectord", passwd="secret", negotiatetimeout=FTP_TIME)
FTP_GREETING = Send(b"220 FTP ready\r\n")

LIBRARY_ROWS = rows(
    "smtp", check_smtp, SMTP,
    ("refused", Refused(), f"SMTP: {REFUSED}"),
    ("blackholed", BLACKHOLE, f"SMTP: {timed_out(LINE)}"),
    ("stalled-after-ehlo", [SMTP_GREETING, RecvLine(), Stall()], f"SMTP: {timed_out(LINE)}"),
    ("reset-after-ehlo", [SMTP_GREETING, RecvLine(), Reset()], "SMTP: connection"),
    ("stalled-mid-reply", [SMTP_GREETING, RecvLine(), Send(b"250-mx.example.test\r\n"),
                           Stall()], f"SMTP: {timed_out(LINE)}"),
    ("garbage-greeting", [garbage()], "SMTP greeting: Malformed SMTP response line"),
    ("oversized-greeting", [oversized(b"220 ")], "SMTP greeting: Response too long"),
    ("554-greeting", [Send(b"554 5.3.2 no service\r\n")], "SMTP greeting: 554 5.3.2 no service"),
    # An SMTP (not ESMTP) server: EHLO refused, HELO accepted.
    ("helo-fallback", [SMTP_GREETING, RecvLine(), EHLO_REFUSED, RecvLine(),
                       Send(b"250 mx.example.test\r\n"), RecvLine(), Send(b"221 bye\r\n")],
     "SMTP 250 mx.example.test", True),
    ("helo-refused", [SMTP_GREETING, RecvLine(), EHLO_REFUSED, RecvLine(), Send(b"502 no\r\n")],
     "SMTP HELO failed: 502 no"),
    ("ehlo-421", [SMTP_GREETING, RecvLine(), Send(b"421 4.3.2 shutting down\r\n")],
     "SMTP EHLO failed: 421 4.3.2 shutting down"),
    # QUIT unanswered: still up, and within the timeout.
    ("quit-unanswered", [SMTP_GREETING, RecvLine(), Send(b"250 mx.example.test\r\n"),
                         RecvLine(), Stall()], "SMTP 250 mx.example.test", True),
) + rows(
    "ftp", check_ftp, FTP,
    # Part A §6: the original's FTP check without receive was up even when unreachable.
    ("refused", Refused(), f"FTP: {REFUSED}"),
    ("blackholed", BLACKHOLE, f"FTP: {timed_out(FTP_TIME)}"),
    ("stalled-after-user", [FTP_GREETING, RecvLine(), Stall()], f"FTP: {timed_out(FTP_TIME)}"),
    ("reset-after-user", [FTP_GREETING, RecvLine(), Reset()], "FTP: connection"),
    ("reset-after-pass", [FTP_GREETING, RecvLine(), Send(b"331 password please\r\n"),
                          RecvLine(), Reset()], "FTP: connection"),
    ("garbage-greeting", [garbage()], "FTP: "),
    ("oversized-greeting", [oversized(b"220 ")], "FTP: malformed or oversized reply"),
    ("421-greeting", [Send(b"421 too many users\r\n")], "FTP: 421"),
    ("endless-greeting", [Send(b"220-welcome\r\n" * 100_000), Stall()],
     "FTP: malformed or oversized reply"),
)

# --- request and reply: simpletcp, SIP over TCP ----------------------------------------

STREAM = 1.5
SIMPLETCP = CheckSpec(service=Service.SIMPLETCP, request="/HELLO\\nWORLD\\n",
                      receive=regex.compile(rb"^WORLD$"), negotiatetimeout=STREAM)
SIP_TIME = 2.0
SIP = CheckSpec(service=Service.SIP, login="ldirectord@example.org", negotiatetimeout=SIP_TIME)
PROVISIONAL = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n"
UDP = IpvsProtocol.UDP

STREAM_ROWS = rows(
    "simpletcp", check_simpletcp, SIMPLETCP,
    ("refused", Refused(), REFUSED),
    ("refused-udp", Refused(udp=True), REFUSED, False, replace(SIMPLETCP, protocol=UDP)),
    ("blackhole", BLACKHOLE, timed_out(STREAM)),
    ("stall", [Recv(), Send(b"HELLO\nWOR"), Stall()], timed_out(STREAM)),
    ("reset", [Recv(), Send(b"HELLO\n"), Reset()], "connection reset by server"),
    ("garbage", [Recv(), garbage(), Close()], "receive did not match"),
    ("oversized", [Recv(), oversized(), Close()], "reply line longer than 64 KiB"),
    ("silent-close", [Recv(), Close()], "no reply"),
    ("unterminated", [Recv(), Send(b"WORLD"), Close()], "received 'WORLD'", True),
    whole=True,
) + rows(
    "sip", check_sip, SIP,
    ("refused", Refused(), REFUSED),
    ("refused-udp", Refused(udp=True), REFUSED, False, replace(SIP, protocol=UDP)),
    ("blackhole", BLACKHOLE, timed_out(SIP_TIME)),
    ("stall-after-100", [Recv(), Send(PROVISIONAL), Stall()], timed_out(SIP_TIME)),
    ("stall-in-headers", [Recv(), Send(b"SIP/2.0 200 OK\r\nVia: x\r\n"), Stall()],
     timed_out(SIP_TIME)),
    ("reset", [Recv(), Reset()], "connection reset by server"),
    ("silent-close", [Recv(), Close()], "connection closed without a response"),
    ("garbage", [Recv(), garbage(), Close()], "not a SIP response: "),
    ("oversized-line", [Recv(), oversized(b"SIP/2.0 200 OK\r\nX: "), Close()],
     "response line longer than 8 KiB"),
    ("oversized-headers", [Recv(), Send(b"SIP/2.0 200 OK\r\n" + b"X: y\r\n" * 20000), Close()],
     "response headers longer than 64 KiB"),
    ("oversized-body", [Recv(), Send(b"SIP/2.0 200 OK\r\nl: 99999999\r\n\r\n"), Close()],
     "response body of 99999999 bytes is too long"),
    ("endless-1xx", [Recv(), Send(PROVISIONAL * 40), Close()],
     "only provisional responses (SIP/2.0 100 Trying)"),
    ("503", [Recv(), Send(b"SIP/2.0 503 Service Unavailable\r\n\r\n"), Close()],
     "SIP/2.0 503 Service Unavailable"),
    ("1xx-then-200", [Recv(), Send(b"\r\n" + PROVISIONAL + b"SIP/2.0 180 Ringing\r\n"
                                   b"Content-Length: 4\r\n\r\nbodySIP/2.0 200 OK\r\n"
                                   b"Content-Length: 0\r\n\r\n"), Stall()],
     "SIP/2.0 200 OK", True),
)

ROWS: list[Row] = SQL_ROWS + DIALOG_ROWS + LIBRARY_ROWS + STREAM_ROWS


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
async def test_peer(host: str, row: Row) -> None:
    result = await row.run(host)
    row.judge(result)
    assert result.ok or documented(row.service, result.detail), result


#: The checks a black-holed peer holds until the daemon cancels them (a reload, a stop).
CANCELLED: list[tuple[str, Checker, CheckSpec]] = [
    ("mysql", check_mysql, MYSQL), ("pgsql", check_pgsql, PGSQL),
    ("imap", check_imap, IMAP_USER), ("pop", check_pop, POP_USER), ("nntp", check_nntp, NNTP),
    ("smtp", check_smtp, SMTP), ("ftp", check_ftp, FTP),
    ("simpletcp", check_simpletcp, SIMPLETCP), ("sip", check_sip, SIP),
    ("simpletcp-udp", check_simpletcp, replace(SIMPLETCP, protocol=UDP)),
    ("sip-udp", check_sip, replace(SIP, protocol=UDP)),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("checker", "spec"), [pytest.param(c, s, id=n) for n, c, s in CANCELLED])
async def test_cancelled_check_releases_everything(host: str, checker: Checker,
                                                   spec: CheckSpec) -> None:
    """Nothing stays open or running after a check cancelled while its peer is silent."""
    async with no_leaks(), scripted_server(BLACKHOLE, host=host) as tcp, \
            udp_peer(lambda _: [], host=host) as udp:
        target = udp.target if spec.protocol is UDP else tcp
        await cancel_ends_promptly(checker(target, replace(spec, negotiatetimeout=30)), 0.3, 1.5)
