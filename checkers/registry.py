"""Which checker runs a check: one loader per service, and one lookup for every check type.

Every `Service` is either in `LOADERS` or in `REFUSED` with the reason a config using it is
rejected; a unit test holds the two together. `Service.NONE` needs no checker: it is always up.

Each loader imports its checker's module inside the function, so a daemon whose config uses
only HTTP never loads the FTP, LDAP or SQL client libraries (a start or a `status` call stays
quick). The loaders are typed `Callable[[], Checker]`, so mypy checks each checker's
signature against the `Checker` protocol. The daemon looks up every service of a config when
it loads the file, outside the event loop, so no import happens while checks run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, assert_never

from checkers.base import Checker, CheckSpec, Result, Target
from checkers.connect import check_connect
from checkers.external import check_external
from checkers.ping import check_ping
from ldirectord.config.model import CheckType, Service


def _dns() -> Checker:
    from checkers.dns import check_dns
    return check_dns


def _ftp() -> Checker:
    from checkers.ftp import check_ftp
    return check_ftp


def _http() -> Checker:
    from checkers.http import check_http
    return check_http


def _https() -> Checker:
    from checkers.http import check_https
    return check_https


def _http_proxy() -> Checker:
    from checkers.http import check_http_proxy
    return check_http_proxy


def _imap() -> Checker:
    from checkers.imap import check_imap
    return check_imap


def _imaps() -> Checker:
    from checkers.imap import check_imaps
    return check_imaps


def _ldap() -> Checker:
    from checkers.ldap import check_ldap
    return check_ldap


def _ldaps() -> Checker:
    from checkers.ldap import check_ldaps
    return check_ldaps


def _mysql() -> Checker:
    from checkers.sql import check_mysql
    return check_mysql


def _nntp() -> Checker:
    from checkers.nntp import check_nntp
    return check_nntp


def _pgsql() -> Checker:
    from checkers.sql import check_pgsql
    return check_pgsql


def _pop() -> Checker:
    from checkers.pop import check_pop
    return check_pop


def _pops() -> Checker:
    from checkers.pop import check_pops
    return check_pops


def _radius() -> Checker:
    from checkers.radius import check_radius
    return check_radius


def _simpletcp() -> Checker:
    from checkers.simpletcp import check_simpletcp
    return check_simpletcp


def _sip() -> Checker:
    from checkers.sip import check_sip
    return check_sip


def _smtp() -> Checker:
    from checkers.smtp import check_smtp
    return check_smtp


def _submission() -> Checker:
    from checkers.smtp import check_submission
    return check_submission


#: The negotiate checker of each service, imported when first looked up.
LOADERS: Final[Mapping[Service, Callable[[], Checker]]] = {
    Service.DNS: _dns,
    Service.FTP: _ftp,
    Service.HTTP: _http,
    Service.HTTPS: _https,
    Service.HTTP_PROXY: _http_proxy,
    Service.IMAP: _imap,
    Service.IMAPS: _imaps,
    Service.LDAP: _ldap,
    Service.LDAPS: _ldaps,
    Service.MYSQL: _mysql,
    Service.NNTP: _nntp,
    Service.PGSQL: _pgsql,
    Service.POP: _pop,
    Service.POPS: _pops,
    Service.RADIUS: _radius,
    Service.SIMPLETCP: _simpletcp,
    Service.SIP: _sip,
    Service.SMTP: _smtp,
    Service.SUBMISSION: _submission,
}


def get_checker(service: Service) -> Checker | None:
    """The negotiate checker for `service`, or None for `Service.NONE` and refused services."""
    loader = LOADERS.get(service)
    return None if loader is None else loader()


async def check_on(target: Target, spec: CheckSpec) -> Result:
    """checktype=on and off: always up, nothing is run."""
    return Result(True, "", 0.0)


async def check_service_none(target: Target, spec: CheckSpec) -> Result:
    """A negotiate check of service none: always up, nothing is run."""
    return Result(True, "service none", 0.0)


def checker_for(checktype: CheckType, service: Service) -> Checker:
    """The checker of a check type's rounds (SPEC Part B §3.1): negotiate and combined use
    the service's (a refused service, which the daemon rejects first, runs as service none)."""
    match checktype:
        case CheckType.NEGOTIATE | CheckType.COMBINED:
            return get_checker(service) or check_service_none
        case CheckType.CONNECT:
            return check_connect
        case CheckType.PING:
            return check_ping
        case CheckType.EXTERNAL | CheckType.EXTERNAL_PERL:
            return check_external
        case CheckType.ON | CheckType.OFF:
            return check_on
        case _:
            assert_never(checktype)

