"""Every service of the config grammar has a checker or a documented refusal, never both."""

from __future__ import annotations

import inspect

import pytest

from checkers.registry import REFUSED, REGISTRY, get_checker
from ldirectord.config.model import Service
from ldirectord.config.services import DEFAULT_PORTS

CHECKED = [s for s in Service if s is not Service.NONE]


@pytest.mark.parametrize("service", CHECKED, ids=str)
def test_service_has_a_checker_or_a_refusal(service: Service) -> None:
    assert (service in REGISTRY) != (service in REFUSED), (
        f"{service}: needs exactly one of a REGISTRY entry or a REFUSED reason")


def test_none_needs_no_checker() -> None:
    # service=none is always up: no checker runs, and it is not refused either.
    assert Service.NONE not in REGISTRY
    assert Service.NONE not in REFUSED
    assert get_checker(Service.NONE) is None


@pytest.mark.parametrize("service", sorted(REFUSED), ids=str)
def test_refusal_names_the_service(service: Service) -> None:
    reason = REFUSED[service]
    assert get_checker(service) is None
    assert reason.startswith(f"unsupported service: {service.value}"), reason


@pytest.mark.parametrize("service", sorted(REGISTRY), ids=str)
def test_checker_is_a_coroutine_taking_target_and_spec(service: Service) -> None:
    checker = REGISTRY[service]
    assert get_checker(service) is checker
    call = checker if inspect.isfunction(checker) else type(checker).__call__
    assert inspect.iscoroutinefunction(call), checker
    inspect.signature(checker).bind(object(), object())  # (target, spec) is enough


@pytest.mark.parametrize("service", CHECKED, ids=str)
def test_service_has_a_default_port(service: Service) -> None:
    # SPEC §3.2: a real with port 0 and no checkport is probed on the service's port.
    if service is Service.SIMPLETCP:
        pytest.skip("simpletcp has no well-known port: the real's port or checkport is needed")
    assert service in DEFAULT_PORTS
