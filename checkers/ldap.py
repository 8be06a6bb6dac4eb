"""LDAP and LDAPS checks: bind, then a base-scope search whose single entry's DN must match receive.

The exchange is the original's (SPEC B §3.3): bind anonymously, or simply with login/passwd
when both are set; search `base = request without its leading /` (empty: the root DSE), scope
base, filter `(objectClass=*)`; up iff exactly one entry comes back and, when receive is set,
its DN matches receive. ldaps does not verify certificates.

ldap3's client is synchronous, so it is not used as a client here: its protocol encoder builds
the three requests, sent over asyncio streams, and a small BER reader below takes the few
fields this check judges out of the replies. (ldap3's fast decoder is not used on replies:
it decodes an INTEGER in time quadratic in its length, so one hostile reply would block
the event loop far longer than any check may take.) Staying on asyncio pins no thread on a
hung server, lets cancellation close the socket at once, and lets ldaps share the checks'
TLS client (handshake slots, session reuse, no verification by default; SNI only with
`virtualhost`).

Timeouts (SPEC B §3.6): the whole check is bounded by `checktimeout` (the original's alarm)
and each step (connect, TLS handshake, each reply) by `negotiatetimeout` (Net::LDAP's
timeout); `receive` is matched off the event loop (checkers/match.py) once the connection is
closed, with what is left of `checktimeout`. Unlike the original, a failed connect or bind is
one failed check, not two (SPEC A §6).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from checkers.base import CheckSpec, Down, Result, Target, bounded, timed_out
from checkers.match import MatchTimeout, search
from checkers.tls import TlsClient, current_client

# ldap3 2.9 reaches for pyasn1 names that newer pyasn1 marks deprecated (a warning at import,
# not a fault); keep that noise out of the daemon's log and out of -W error test runs.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ldap3(\.|$)")
    from ldap3.core.results import RESULT_CODES
    from ldap3.operation.bind import bind_operation
    from ldap3.operation.search import search_operation
    from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp, UnbindRequest
    from ldap3.utils.asn1 import encode

#: The largest LDAP message read (no attributes are asked for: a reply is a DN or a result).
MAX_MESSAGE: Final = 64 * 1024
#: At most this many messages are read in reply to the search (entries, referrals).
_MAX_MESSAGES: Final = 64
#: How long a clean close may take before the socket is dropped, and how much of the check's
#: time it leaves unused (the verdict is known by then: a slow close must not turn it into a
#: timeout).
_CLOSE_GRACE: Final = 1.0
_CLOSE_MARGIN: Final = 0.05

_BIND_ID: Final = 1
_SEARCH_ID: Final = 2
_UNBIND_ID: Final = 3

# Application tags of the protocolOp CHOICE (RFC 4511 §4.2).
_BIND_RESPONSE: Final = 1
_SEARCH_ENTRY: Final = 4
_SEARCH_DONE: Final = 5
_SEARCH_REFERENCE: Final = 19
_EXTENDED_RESPONSE: Final = 24

# Universal tags of the BER elements read.
_INTEGER: Final = 0x02
_OCTET_STRING: Final = 0x04
_ENUMERATED: Final = 0x0A
_SEQUENCE: Final = 0x30

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Reply:
    """The parts of one LDAP message this check looks at."""

    message_id: int
    op: int
    code: int  # resultCode of an LDAPResult; -1 for messages without one
    text: bytes  # diagnosticMessage, or the DN of a search entry


async def check_ldap(target: Target, spec: CheckSpec) -> Result:
    """Check an LDAP server over plain TCP."""
    return await _check(target, spec, tls_client=None)


async def check_ldaps(target: Target, spec: CheckSpec) -> Result:
    """Check an LDAP server over TLS (certificates are not verified by default)."""
    return await _check(target, spec, tls_client=current_client())


async def _check(target: Target, spec: CheckSpec, tls_client: TlsClient | None) -> Result:
    deadline = asyncio.get_running_loop().time() + spec.checktimeout
    return await bounded(spec.checktimeout, _session(target, spec, tls_client, deadline))


async def _session(target: Target, spec: CheckSpec, tls_client: TlsClient | None,
                   deadline: float) -> tuple[bool, str]:
    async with asyncio.timeout_at(deadline):
        if tls_client is None:
            dn = await _exchange(target, spec, None)
        else:
            # Offer the session of the last check of this server, and keep the one this
            # connection ends with (TLS 1.3 tickets arrive after the handshake).
            with tls_client.resuming(target.host, target.port, spec.virtualhost):
                dn = await _exchange(target, spec, tls_client)
    return await _judge(dn, spec, deadline)


async def _judge(dn: bytes, spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    shown = _printable(dn) or "(root DSE)"
    if spec.receive is not None:
        try:
            matched = await search(spec.receive, dn, deadline, spec.checktimeout)
        except MatchTimeout as exc:
            return False, exc.detail
        if not matched:
            return False, f"receive did not match DN {shown}"
    return True, f"LDAP entry {shown}"


async def _exchange(target: Target, spec: CheckSpec, tls_client: TlsClient | None) -> bytes:
    """The DN of the one entry the search returns; raises Down for every other outcome."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.checktimeout
    step = spec.negotiatetimeout
    reader, writer = await _step(asyncio.open_connection(target.host, target.port), step,
                                    "connecting")
    try:
        if tls_client is not None:
            # Servers that speak TLS from the first byte: upgrade the fresh connection, so
            # the handshake runs under the shared slot cap with its own timeout.
            async with tls_client.handshake_slots:
                await _step(
                    writer.start_tls(tls_client.context,
                                     server_hostname=spec.virtualhost or target.host),
                    step, "in TLS handshake")
        if spec.login and spec.passwd:
            writer.write(_bind_request(spec.login, spec.passwd))
        else:
            writer.write(_ANONYMOUS_BIND)
        bind = await _await_reply(reader, _BIND_ID, step, "bind")
        if bind.op != _BIND_RESPONSE:
            raise Down("LDAP bind: unexpected reply")
        if bind.code != 0:
            raise Down(f"LDAP bind failed: {_describe(bind)}")

        writer.write(_search_request(_search_base(spec.request)))
        entries: list[bytes] = []
        for _ in range(_MAX_MESSAGES):
            reply = await _await_reply(reader, _SEARCH_ID, step, "search")
            if reply.op == _SEARCH_ENTRY:
                entries.append(reply.text)
                if len(entries) > 1:
                    raise Down("LDAP search returned more than one entry")
            elif reply.op == _SEARCH_DONE:
                break
            elif reply.op != _SEARCH_REFERENCE:
                raise Down("LDAP search: unexpected reply")
        else:
            raise Down("LDAP search: too many replies")
        if reply.code != 0:
            raise Down(f"LDAP search failed: {_describe(reply)}")
        writer.write(_UNBIND)
    except BaseException:
        # Whatever went wrong, a polite close could wait on the same misbehaving peer.
        writer.transport.abort()
        raise
    await _close(writer, deadline)

    if not entries:
        raise Down("LDAP search returned no entry")
    return entries[0]


async def _step(aw: Awaitable[_T], seconds: float, what: str) -> _T:
    """Await one step of the exchange within the per-step timeout."""
    try:
        async with asyncio.timeout(seconds):
            return await aw
    except TimeoutError:
        raise Down(f"{timed_out(seconds)} {what}") from None


async def _await_reply(reader: asyncio.StreamReader, message_id: int, seconds: float,
                       what: str) -> _Reply:
    """The next message, which must answer `message_id` (one request is outstanding)."""
    reply = await _step(_read_message(reader), seconds, f"waiting for {what} reply")
    if reply.message_id == message_id:
        return reply
    if reply.message_id == 0 and reply.op == _EXTENDED_RESPONSE:
        raise Down(f"LDAP server disconnected: {_describe(reply)}")
    raise Down(f"LDAP {what}: reply to unknown message {reply.message_id}")


async def _read_message(reader: asyncio.StreamReader) -> _Reply:
    """Read one BER-framed LDAPMessage (definite length, at most MAX_MESSAGE bytes)."""
    try:
        head = await reader.readexactly(2)
        if head[0] != 0x30:
            raise Down("not an LDAP reply")
        length = head[1]
        if length & 0x80:
            octets = length & 0x7F
            if not 1 <= octets <= 4:
                raise Down("malformed LDAP reply")
            more = await reader.readexactly(octets)
            head += more
            length = int.from_bytes(more, "big")
        if length > MAX_MESSAGE:
            raise Down(f"LDAP reply too large ({length} bytes)")
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise Down("connection closed by server") from None
    return _parse(head + body)


def _parse(raw: bytes) -> _Reply:
    """Pick the fields this check needs out of one LDAPMessage (RFC 4511 §4.1.1), refusing
    anything malformed: a bind or search reply, a search entry or reference, or a notice."""
    tag, start, end = _element(raw, 0, len(raw))
    if tag != _SEQUENCE:
        raise Down("malformed LDAP reply")
    tag, start, id_end = _element(raw, start, end)
    if tag != _INTEGER:
        raise Down("malformed LDAP reply")
    message_id = _small_int(raw, start, id_end)
    tag, start, op_end = _element(raw, id_end, end)
    if tag & 0xE0 != 0x60:  # protocolOp: [APPLICATION n], constructed
        raise Down("malformed LDAP reply")
    op = tag & 0x1F
    if op == _SEARCH_REFERENCE:
        return _Reply(message_id, op, -1, b"")
    if op == _SEARCH_ENTRY:
        dn = _octets(raw, start, op_end)
        return _Reply(message_id, op, -1, raw[dn[0]:dn[1]])
    # Every other reply starts with the LDAPResult: resultCode, matchedDN, diagnosticMessage.
    tag, start, code_end = _element(raw, start, op_end)
    if tag != _ENUMERATED:
        raise Down("malformed LDAP reply")
    code = _small_int(raw, start, code_end)
    matched = _octets(raw, code_end, op_end)
    text = _octets(raw, matched[1], op_end)
    return _Reply(message_id, op, code, raw[text[0]:text[1]])


def _element(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the BER element at `pos`, which must end by `end`."""
    if pos + 2 > end or data[pos] & 0x1F == 0x1F:  # no multi-octet tags in LDAP replies
        raise Down("malformed LDAP reply")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        octets = length & 0x7F
        if not 1 <= octets <= 4 or pos + octets > end:
            raise Down("malformed LDAP reply")
        length = int.from_bytes(data[pos:pos + octets], "big")
        pos += octets
    if pos + length > end:
        raise Down("malformed LDAP reply")
    return tag, pos, pos + length


def _small_int(data: bytes, start: int, end: int) -> int:
    # Message ids and result codes fit in 4 octets; refusing longer ones also keeps a hostile
    # reply from costing more than a glance.
    if not 1 <= end - start <= 4:
        raise Down("malformed LDAP reply")
    return int.from_bytes(data[start:end], "big", signed=True)


def _octets(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The value span of the OCTET STRING at `pos`."""
    tag, start, stop = _element(data, pos, end)
    if tag != _OCTET_STRING:
        raise Down("malformed LDAP reply")
    return start, stop


async def _close(writer: asyncio.StreamWriter, deadline: float) -> None:
    """After a good exchange: flush the unbind and close politely (TLS close_notify) if the
    peer lets us within a moment, and never so late that the verdict turns into a timeout;
    always release the socket."""
    loop = asyncio.get_running_loop()
    grace = min(_CLOSE_GRACE, deadline - loop.time() - _CLOSE_MARGIN)
    try:
        writer.close()
        if grace > 0:
            async with asyncio.timeout(grace):
                await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError):
        pass
    finally:
        writer.transport.abort()


def _search_base(request: str) -> str:
    return request[1:] if request.startswith("/") else request


def _describe(reply: _Reply) -> str:
    name = RESULT_CODES.get(reply.code, "unknown")
    text = _printable(reply.text)
    return f"{name} ({reply.code})" + (f": {text}" if text else "")


def _printable(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _frame(message_id: int, name: str, operation: Any) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(name, operation)
    return bytes(encode(message))


# Encoding with pyasn1 is slow next to the rest of a check; the requests only depend on the
# config, so each distinct one is encoded once.
@functools.lru_cache(maxsize=1024)
def _bind_request(login: str, passwd: str) -> bytes:
    return _frame(_BIND_ID, "bindRequest", bind_operation(3, "SIMPLE", login, passwd))


@functools.lru_cache(maxsize=1024)
def _search_request(base: str) -> bytes:
    # Attributes "1.1" = none: only the DN is judged, so the server need not send any.
    operation = search_operation(base, "(objectClass=*)", "BASE", "NEVER", ["1.1"], 0, 0,
                                 False, False, False)
    return _frame(_SEARCH_ID, "searchRequest", operation)


_ANONYMOUS_BIND: Final = _frame(_BIND_ID, "bindRequest", bind_operation(3, "ANONYMOUS"))
_UNBIND: Final = _frame(_UNBIND_ID, "unbindRequest", UnbindRequest())
