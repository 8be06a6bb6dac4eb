"""Service -> checker coroutine, written out explicitly (no discovery, no import magic).

Every `Service` is either in `REGISTRY` or in `REFUSED` with the reason a config using it is
rejected; a unit test holds the two together. `Service.NONE` needs no checker: it is always up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from checkers.base import Checker
from checkers.dns import check_dns
from checkers.ftp import check_ftp
from checkers.http import check_http, check_http_proxy, check_https
from checkers.imap import check_imap, check_imaps
from checkers.ldap import check_ldap, check_ldaps
from checkers.nntp import check_nntp
from checkers.pop import check_pop, check_pops
from checkers.ports import DEFAULT_PORTS, REFUSED, guess_service
from checkers.radius import check_radius
from checkers.simpletcp import check_simpletcp
from checkers.sip import check_sip
from checkers.smtp import check_smtp, check_submission
from checkers.sql import check_mysql, check_pgsql
from ldirectord.config.model import Service

REGISTRY: Final[Mapping[Service, Checker]] = {
    Service.FTP: check_ftp,
    Service.IMAP: check_imap,
    Service.IMAPS: check_imaps,
    Service.NNTP: check_nntp,
    Service.POP: check_pop,
    Service.POPS: check_pops,
    Service.SMTP: check_smtp,
    Service.SUBMISSION: check_submission,
    Service.LDAP: check_ldap,
    Service.LDAPS: check_ldaps,
    Service.HTTP: check_http,
    Service.HTTPS: check_https,
    Service.HTTP_PROXY: check_http_proxy,
    Service.DNS: check_dns,
    Service.SIMPLETCP: check_simpletcp,
    Service.SIP: check_sip,
    Service.MYSQL: check_mysql,
    Service.PGSQL: check_pgsql,
    Service.RADIUS: check_radius,
}

__all__ = ["DEFAULT_PORTS", "REFUSED", "REGISTRY", "get_checker", "guess_service"]


def get_checker(service: Service) -> Checker | None:
    """The checker for `service`, or None for `Service.NONE` and refused services."""
    return REGISTRY.get(service)
