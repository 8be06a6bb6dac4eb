"""Service -> checker coroutine, written out explicitly (no discovery, no import magic).

Every `Service` is either in `REGISTRY` or in `REFUSED` with the reason a config using it is
rejected; a unit test holds the two together. `Service.NONE` needs no checker: it is always up.

A checker's module is imported the first time its service is looked up, so a daemon whose
config uses only HTTP never loads the FTP, LDAP or SQL client libraries (a start or a
`status` call stays quick). The daemon looks up every service of a config when it loads the
file, outside the event loop, so no import happens while checks run.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Final, cast

from checkers.base import Checker
from ldirectord.config.model import Service
from ldirectord.config.services import DEFAULT_PORTS, REFUSED, guess_service

#: Where each service's checker lives: (module, coroutine function).
SOURCES: Final[Mapping[Service, tuple[str, str]]] = {
    Service.DNS: ("checkers.dns", "check_dns"),
    Service.FTP: ("checkers.ftp", "check_ftp"),
    Service.HTTP: ("checkers.http", "check_http"),
    Service.HTTPS: ("checkers.http", "check_https"),
    Service.HTTP_PROXY: ("checkers.http", "check_http_proxy"),
    Service.IMAP: ("checkers.imap", "check_imap"),
    Service.IMAPS: ("checkers.imap", "check_imaps"),
    Service.LDAP: ("checkers.ldap", "check_ldap"),
    Service.LDAPS: ("checkers.ldap", "check_ldaps"),
    Service.MYSQL: ("checkers.sql", "check_mysql"),
    Service.NNTP: ("checkers.nntp", "check_nntp"),
    Service.PGSQL: ("checkers.sql", "check_pgsql"),
    Service.POP: ("checkers.pop", "check_pop"),
    Service.POPS: ("checkers.pop", "check_pops"),
    Service.RADIUS: ("checkers.radius", "check_radius"),
    Service.SIMPLETCP: ("checkers.simpletcp", "check_simpletcp"),
    Service.SIP: ("checkers.sip", "check_sip"),
    Service.SMTP: ("checkers.smtp", "check_smtp"),
    Service.SUBMISSION: ("checkers.smtp", "check_submission"),
}


class _Registry(Mapping[Service, Checker]):
    """A read-only mapping over SOURCES that imports a checker's module on first use."""

    def __getitem__(self, service: Service) -> Checker:
        module, name = SOURCES[service]
        return cast(Checker, getattr(importlib.import_module(module), name))

    def __iter__(self) -> Iterator[Service]:
        return iter(SOURCES)

    def __len__(self) -> int:
        return len(SOURCES)


REGISTRY: Final[Mapping[Service, Checker]] = _Registry()

__all__ = ["DEFAULT_PORTS", "REFUSED", "REGISTRY", "SOURCES", "get_checker", "guess_service"]


def get_checker(service: Service) -> Checker | None:
    """The checker for `service`, or None for `Service.NONE` and refused services."""
    return REGISTRY[service] if service in SOURCES else None
