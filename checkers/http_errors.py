"""One short log line for each way an HTTP(S) exchange on aiohttp can fail."""

from __future__ import annotations

import errno
import os
import ssl

import aiohttp

_MAX_DETAIL = 120


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _os_error(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc.strerror or exc}"
    if exc.errno is not None and exc.errno in errno.errorcode:
        return os.strerror(exc.errno).lower()
    return _short(str(exc) or type(exc).__name__)


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or exc.__context__


def _tls(exc: BaseException) -> str:
    inner = getattr(exc, "os_error", None) or _cause(exc)
    if isinstance(inner, ssl.SSLError):
        reason = inner.reason or inner.strerror or str(inner)
    else:
        reason = str(inner or exc) or type(exc).__name__
    return _short(f"TLS handshake failed: {reason}")


def describe(exc: BaseException) -> str:
    """`connection refused`, `TLS handshake failed: ...`, `bad HTTP response: ...`, ..."""
    # Most specific first: several of these subclass one another.
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return _short(f"redirect to a non-HTTP URL: {exc}")
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError | aiohttp.InvalidURL):
        return _short(f"invalid redirect or URL: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _short(f"TLS certificate rejected: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientSSLError):
        return _tls(exc)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return _short(f"proxy refused the tunnel: HTTP {exc.status} {exc.message}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"proxy: {_os_error(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _os_error(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection before a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        cause = _cause(exc)
        if isinstance(cause, OSError):
            return f"body incomplete: {_os_error(cause)}"
        return "body incomplete"
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised for replies the parser rejects (bad status line, over-long headers).
        return _short(f"bad HTTP response: {exc.message}")
    if isinstance(exc, aiohttp.ClientOSError):
        return _os_error(exc)
    if isinstance(exc, ssl.SSLError):
        return _tls(exc)
    if isinstance(exc, OSError):
        return _os_error(exc)
    return _short(f"{type(exc).__name__}: {exc}")
