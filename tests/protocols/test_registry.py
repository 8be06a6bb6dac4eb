"""Every service of the config grammar has a checker or a documented refusal, never both;
every check type has a checker; a config's checkers load only their own client libraries."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from checkers.connect import check_connect
from checkers.external import check_external
from checkers.ping import check_ping
from checkers.registry import (
    LOADERS,
    check_on,
    check_service_none,
    checker_for,
    get_checker,
)
from ldirectord.config.model import CheckType, Service
from ldirectord.config.services import DEFAULT_PORTS, REFUSED

TOP = Path(__file__).resolve().parents[2]
CHECKED = [s for s in Service if s is not Service.NONE]


@pytest.mark.parametrize("service", CHECKED, ids=str)
def test_service_has_a_checker_or_a_refusal(service: Service) -> None:
    assert (service in LOADERS) != (service in REFUSED), (
        f"{service}: needs exactly one of a LOADERS entry or a REFUSED reason")


def test_none_needs_no_checker() -> None:
    # service=none is always up: no checker runs, and it is not refused either.
    assert Service.NONE not in LOADERS
    assert Service.NONE not in REFUSED
    assert get_checker(Service.NONE) is None


@pytest.mark.parametrize("service", sorted(REFUSED), ids=str)
def test_refusal_names_the_service(service: Service) -> None:
    reason = REFUSED[service]
    assert get_checker(service) is None
    assert reason.startswith(f"unsupported service: {service.value}"), reason


@pytest.mark.parametrize("service", sorted(LOADERS), ids=str)
def test_checker_is_a_coroutine_taking_target_and_spec(service: Service) -> None:
    checker = get_checker(service)
    assert checker is not None
    assert get_checker(service) is checker
    call = checker if inspect.isfunction(checker) else type(checker).__call__
    assert inspect.iscoroutinefunction(call), checker
    inspect.signature(checker).bind(object(), object())  # (target, spec) is enough


@pytest.mark.parametrize(("checktype", "expected"), [
    (CheckType.CONNECT, check_connect),
    (CheckType.PING, check_ping),
    (CheckType.EXTERNAL, check_external),
    (CheckType.EXTERNAL_PERL, check_external),
    (CheckType.ON, check_on),
    (CheckType.OFF, check_on),
], ids=str)
def test_every_check_type_has_its_checker(checktype: CheckType, expected: object) -> None:
    # The service matters only to negotiate types.
    assert checker_for(checktype, Service.HTTP) is expected


@pytest.mark.parametrize("checktype", [CheckType.NEGOTIATE, CheckType.COMBINED], ids=str)
def test_negotiate_types_use_the_service_checker(checktype: CheckType) -> None:
    assert checker_for(checktype, Service.HTTP) is get_checker(Service.HTTP)
    assert checker_for(checktype, Service.NONE) is check_service_none


@pytest.mark.parametrize("service", CHECKED, ids=str)
def test_service_has_a_default_port(service: Service) -> None:
    # SPEC §3.2: a real with port 0 and no checkport is probed on the service's port.
    if service is Service.SIMPLETCP:
        pytest.skip("simpletcp has no well-known port: the real's port or checkport is needed")
    assert service in DEFAULT_PORTS


LAZY_PROBE = """
import sys
from ldirectord import engine
from ldirectord.config import load
from ldirectord.runtime.realprobes import probes_for, refused_services

config = load(sys.argv[1])
assert not refused_services(config)
for group in engine.real_groups(config):
    probes_for(group)
assert "checkers.http" in sys.modules
names = set(sys.argv[2:])
print(" ".join(sorted(m for m in sys.modules if m in names or m.split(".")[0] in names)))
"""

#: The client libraries (and checker modules) an HTTP-only config must not load.
OTHER_CLIENTS = ("aioftp", "ldap3", "pymysql", "psycopg", "aiosmtplib", "dns")


def test_an_http_config_loads_no_other_client_library(tmp_path: Path) -> None:
    cf = tmp_path / "ldirectord.cf"
    cf.write_text("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 masq\n"
                  "\tchecktype=negotiate\n\tservice=http\n"
                  "virtual=10.0.0.1:25\n\treal=10.0.0.2:25 masq\n\tchecktype=connect\n")
    done = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE, str(cf), *OTHER_CLIENTS,
         "checkers.ftp", "checkers.ldap", "checkers.sql", "checkers.smtp", "checkers.dns"],
        cwd=TOP, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], done.stdout
