"""One short detail for each way an HTTP(S) exchange on aiohttp can fail (docs/checks.md)."""

from __future__ import annotations

import ssl

import aiohttp

from checkers.base import describe_os_error, one_line, tls_failed


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or exc.__context__


def _tls(exc: BaseException) -> str:
    inner = getattr(exc, "os_error", None) or _cause(exc)
    if isinstance(inner, ssl.SSLError):
        return describe_os_error(inner)
    return tls_failed(str(inner or exc) or type(exc).__name__)


def describe(exc: BaseException) -> str:
    """`connection refused`, `TLS handshake failed: ...`, `bad HTTP response: ...`, ..."""
    # Most specific first: several of these subclass one another.
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return one_line(f"redirect to a non-HTTP URL: {exc}")
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError | aiohttp.InvalidURL):
        return one_line(f"invalid redirect or URL: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return one_line(f"TLS certificate rejected: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientSSLError):
        return _tls(exc)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return one_line(f"proxy refused the tunnel: HTTP {exc.status} {exc.message}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"proxy: {describe_os_error(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return describe_os_error(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection before a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        cause = _cause(exc)
        if isinstance(cause, OSError):
            return f"body incomplete: {describe_os_error(cause)}"
        return "body incomplete"
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised for replies the parser rejects (bad status line, over-long headers).
        return one_line(f"bad HTTP response: {exc.message}")
    if isinstance(exc, aiohttp.ClientOSError):
        return describe_os_error(exc)
    if isinstance(exc, OSError):  # ssl.SSLError included
        return describe_os_error(exc)
    return one_line(f"{type(exc).__name__}: {exc}")
