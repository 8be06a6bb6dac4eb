"""RADIUS check: an Access-Request for login/passwd that the server must answer with Access-Accept.

As the original's Authen::Radius `check_pwd` (SPEC B §3.3): User-Name = login, User-Password
= passwd hidden with `secret` (RFC 2865 §5.2) under a random Request Authenticator; up iff
the server answers Access-Accept. Reject, challenge, silence and any malformed or forged
reply are down. The reply's Response Authenticator (and Message-Authenticator, when present)
must verify with `secret`, so a reply from a server with another secret is down too.

Beyond the original: the request carries a Message-Authenticator (RFC 3579 §3.2; servers
hardened against the BlastRADIUS forgery require it) and a NAS-Identifier of `ldirectord` in
place of the original's NAS-IP-Address (which it could not fill for IPv6). The request is
resent after 1 s, 2 s, ... over UDP. The whole exchange is bounded by the shorter of
`checktimeout` (the original's alarm) and `negotiatetimeout` (Authen::Radius' TimeOut).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from checkers import _udp
from checkers.base import CheckSpec, Down, Result, Target, bounded

_HEADER: Final = struct.Struct("!BBH16s")
_MAX_PASSWORD: Final = 128  # RFC 2865 §5.2
_MAX_LENGTH: Final = 4096  # RFC 2865 §3
_NAS_IDENTIFIER: Final = b"ldirectord"


class Code(IntEnum):
    """RADIUS packet codes this check sends or expects (RFC 2865 §3)."""

    ACCESS_REQUEST = 1
    ACCESS_ACCEPT = 2
    ACCESS_REJECT = 3
    ACCESS_CHALLENGE = 11


class Attr(IntEnum):
    """RADIUS attribute types this check writes or reads."""

    USER_NAME = 1
    USER_PASSWORD = 2
    REPLY_MESSAGE = 18
    NAS_IDENTIFIER = 32
    MESSAGE_AUTHENTICATOR = 80


@dataclass(frozen=True, slots=True)
class Request:
    """An encoded Access-Request and what is needed to verify its reply."""

    wire: bytes
    identifier: int
    authenticator: bytes


async def check_radius(target: Target, spec: CheckSpec) -> Result:
    """Authenticate login/passwd at the real server (see the module docstring)."""
    limit = min(spec.checktimeout, spec.negotiatetimeout)
    return await bounded(limit, _authenticate(target, spec, limit))


async def _authenticate(target: Target, spec: CheckSpec, limit: float) -> tuple[bool, str]:
    secret = spec.secret.encode()
    request = build_request(spec.login.encode(), spec.passwd.encode(), secret)
    code, message = await _udp.exchange(
        target, request.wire, lambda wire: parse_reply(wire, request, secret), within=limit)
    return code == Code.ACCESS_ACCEPT, _name(code) + (f": {message}" if message else "")


def build_request(login: bytes, passwd: bytes, secret: bytes) -> Request:
    """An Access-Request with a fresh identifier and Request Authenticator."""
    if len(passwd) > _MAX_PASSWORD:
        raise Down(f"passwd longer than {_MAX_PASSWORD} bytes cannot be sent")
    identifier = secrets.randbelow(256)
    authenticator = secrets.token_bytes(16)
    attrs = b""
    if login:  # an empty attribute is not allowed (RFC 2865 §5: length >= 3)
        attrs += _attr(Attr.USER_NAME, login[:253])
    attrs += _attr(Attr.USER_PASSWORD, hide_password(passwd, secret, authenticator))
    attrs += _attr(Attr.NAS_IDENTIFIER, _NAS_IDENTIFIER)
    attrs += _attr(Attr.MESSAGE_AUTHENTICATOR, bytes(16))
    length = _HEADER.size + len(attrs)
    unsigned = _HEADER.pack(Code.ACCESS_REQUEST, identifier, length, authenticator) + attrs
    signature = hmac.digest(secret, unsigned, "md5")
    return Request(unsigned[:-16] + signature, identifier, authenticator)


def hide_password(passwd: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """User-Password hiding (RFC 2865 §5.2): c(i) = p(i) xor MD5(secret + c(i-1))."""
    padded = passwd.ljust(max(16, (len(passwd) + 15) // 16 * 16), b"\0")
    out = b""
    previous = authenticator
    for i in range(0, len(padded), 16):
        key = hashlib.md5(secret + previous, usedforsecurity=False).digest()
        previous = bytes(a ^ b for a, b in zip(padded[i:i + 16], key, strict=True))
        out += previous
    return out


def parse_reply(wire: bytes, request: Request, secret: bytes) -> tuple[Code, str]:
    """The code and Reply-Message of a verified reply to `request`; Down for anything else."""
    if len(wire) < _HEADER.size:
        raise Down("malformed RADIUS reply (too short)")
    code, identifier, length, authenticator = _HEADER.unpack_from(wire)
    if not _HEADER.size <= length <= min(len(wire), _MAX_LENGTH):
        raise Down("malformed RADIUS reply (bad length)")
    wire = wire[:length]  # octets past Length are padding (RFC 2865 §3)
    if identifier != request.identifier:
        raise Down("RADIUS reply to another request")
    try:
        kind = Code(code)
    except ValueError:
        raise Down(f"unexpected RADIUS code {code}") from None
    if kind is Code.ACCESS_REQUEST:
        raise Down(f"unexpected RADIUS code {code}")
    attrs = wire[_HEADER.size:]
    expected = hashlib.md5(wire[:4] + request.authenticator + attrs + secret,
                           usedforsecurity=False).digest()
    if not hmac.compare_digest(expected, authenticator):
        raise Down("RADIUS reply fails the Response Authenticator check (wrong secret?)")
    message = b""
    for offset, attr, value in _attributes(attrs):
        if attr == Attr.REPLY_MESSAGE:
            message += value
        elif attr == Attr.MESSAGE_AUTHENTICATOR:
            _verify_message_authenticator(wire, offset, value, request, secret)
    return kind, _printable(message)


def _verify_message_authenticator(wire: bytes, offset: int, value: bytes, request: Request,
                                  secret: bytes) -> None:
    # RFC 3579 §3.2: HMAC-MD5 over the reply with the Request Authenticator in place of the
    # Response Authenticator and the attribute's own value zeroed.
    start = _HEADER.size + offset + 2
    signed = (wire[:4] + request.authenticator + wire[20:start] + bytes(16)
              + wire[start + 16:])
    if len(value) != 16 or not hmac.compare_digest(hmac.digest(secret, signed, "md5"), value):
        raise Down("RADIUS reply fails the Message-Authenticator check")


def _attributes(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, type, value) of each attribute; Down if the list is malformed."""
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data) or data[offset + 1] < 2 or offset + data[offset + 1] > len(data):
            raise Down("malformed RADIUS reply (bad attribute)")
        size = data[offset + 1]
        yield offset, data[offset], data[offset + 2:offset + size]
        offset += size


def _attr(kind: Attr, value: bytes) -> bytes:
    return bytes((kind, len(value) + 2)) + value


def _name(code: Code) -> str:
    return "-".join(word.capitalize() for word in code.name.split("_"))


def _printable(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[:limit] + "..."
