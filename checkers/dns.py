"""DNS check: ask the real server for `request` and look for an answer that matches receive.

As the original (SPEC B §3.3): the query goes to the real server itself, over UDP unless the
virtual's protocol is tcp (a truncated UDP reply is retried over TCP, as Net::DNS does; a
UDP query is resent after 1 s, then 2 s, ... within the timeout); a
name is looked up as A, an IP literal as PTR; up iff some A address or PTR name in the answer
matches receive. The whole check is bounded by `negotiatetimeout`; a timeout reads
`Connection timed out` and an answer without a match `Response mismatch`, the original's
words (the monitor file shows them). `receive` is matched off the event loop
(checkers/match.py), after the exchange, with what is left of that time.

Deliberate differences:

* An empty receive is up on any answer of the asked type (SPEC A §6); the original could never
  match it and so was always down.
* AAAA: when receive looks like an IPv6 address (it contains a `:`) the name is looked up as
  AAAA first; otherwise as A. If that type has no records (NODATA), the other type is asked,
  so a name with only AAAA records (or only A records) still answers. The original knew only A.
* The name is always taken as absolute: no search list. The original's Net::DNS `search()`
  appended the director's /etc/resolv.conf search domains to a name without dots; write the
  full name in `request` instead.
"""

from __future__ import annotations

import asyncio
import functools
import struct
from typing import Final

import dns.asyncquery
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename

from checkers import _udp
from checkers.base import CheckSpec, Down, Result, Target, bounded, one_line
from checkers.match import MatchTimeout, first_match
from ldirectord.config.model import IpvsProtocol

MISMATCH: Final = "Response mismatch"
TIMED_OUT: Final = "Connection timed out"

_ADDRESS_TYPES: Final = (dns.rdatatype.A, dns.rdatatype.AAAA)


async def check_dns(target: Target, spec: CheckSpec) -> Result:
    """Query the real server and judge the answer (see the module docstring)."""
    deadline = asyncio.get_running_loop().time() + spec.negotiatetimeout
    return await bounded(spec.negotiatetimeout, _lookup(target, spec, deadline),
                         timeout_detail=TIMED_OUT)


async def _lookup(target: Target, spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    async with asyncio.timeout_at(deadline):
        values = await _check(target, spec)
    return await _judge(values, spec, deadline)


async def _judge(values: list[str], spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    if spec.receive is None:
        return True, f"answer {values[0]}"
    try:
        index = await first_match(spec.receive, [v.encode() for v in values], deadline,
                                  spec.negotiatetimeout)
    except MatchTimeout as exc:
        return False, exc.detail
    return (False, MISMATCH) if index is None else (True, f"answer {values[index]}")


async def _check(target: Target, spec: CheckSpec) -> list[str]:
    """The answers (addresses or names, never none); raises Down for every failure."""
    qname, qtypes = _question(spec)
    for qtype in qtypes:
        response = await _ask(target, spec, dns.message.make_query(qname, qtype))
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            raise Down(f"DNS {dns.rcode.to_text(rcode)}")
        values = _answers(response, qtype)
        if values:
            return values
    raise Down("no answer")


def _question(spec: CheckSpec) -> tuple[dns.name.Name, tuple[dns.rdatatype.RdataType, ...]]:
    """The name to ask for and the record types to try, in order."""
    text = spec.request[1:] if spec.request.startswith("/") else spec.request
    if not text:
        raise Down("no name to look up (request is empty)")
    if dns.inet.is_address(text):
        return dns.reversename.from_address(text), (dns.rdatatype.PTR,)
    try:
        name = dns.name.from_text(text)  # relative text is made absolute: no search list
    except dns.exception.DNSException as exc:
        raise Down(f"bad name in request: {exc}") from None
    if spec.receive is not None and b":" in spec.receive.pattern:
        return name, (dns.rdatatype.AAAA, dns.rdatatype.A)
    return name, (dns.rdatatype.A, dns.rdatatype.AAAA)


async def _ask(target: Target, spec: CheckSpec, query: dns.message.Message) -> dns.message.Message:
    """One exchange with the server; a reply that fails the check raises Down, silence
    TimeoutError, a socket error OSError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.negotiatetimeout
    try:
        if spec.protocol is not IpvsProtocol.TCP:
            response = await _udp.exchange(target, query.to_wire(),
                                           functools.partial(_parse, query),
                                           within=spec.negotiatetimeout)
            if not response.flags & dns.flags.TC:
                return response
        # TCP by configuration, or because the UDP answer did not fit (as Net::DNS retries).
        return await dns.asyncquery.tcp(query, target.host, deadline - loop.time(),
                                        target.port)
    except dns.exception.Timeout:
        raise TimeoutError from None
    except EOFError:
        raise Down("connection closed by server") from None
    except dns.query.BadResponse:
        raise Down("reply does not answer the query") from None
    except _PARSE_ERRORS as exc:
        raise Down(f"malformed DNS reply: {one_line(str(exc) or type(exc).__name__)}"
                   ) from None


# The parser reports malformed wire data as DNSException subclasses, and a few shapes of
# garbage as plain ValueError/struct.error: all of them are the server's fault.
_PARSE_ERRORS: Final = (dns.exception.DNSException, ValueError, UnicodeError, struct.error)


def _parse(query: dns.message.Message, wire: bytes) -> dns.message.Message:
    """The server's UDP reply, which must answer `query` (it comes from the target's address:
    the socket is connected, so garbage here is the server's, and fails the check)."""
    response = dns.message.from_wire(wire)
    if not query.is_response(response):
        raise dns.query.BadResponse
    return response


def _answers(response: dns.message.Message, qtype: dns.rdatatype.RdataType) -> list[str]:
    """The addresses (A/AAAA) or names (PTR) of the answer section, as text."""
    out: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype != qtype:
            continue  # CNAMEs on the way, or records we did not ask for
        for rdata in rrset:
            if qtype in _ADDRESS_TYPES:
                out.append(rdata.address)
            else:
                out.append(rdata.target.to_text(omit_final_dot=True))
    return out
