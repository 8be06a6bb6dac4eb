"""Test helpers for the config package: a Config as plain data, and a System without I/O."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

import pytest

from ldirectord.config import parse
from ldirectord.config.model import Config
from ldirectord.config.resolve import literal_address
from ldirectord.errors import ConfigError
from tests.conftest import DATA

CONFIGS = DATA / "configs"
REPO = Path(__file__).resolve().parents[3]
SAMPLES = (REPO / "conf" / "ldirectord.cf", REPO / "conf" / "ldirectord.cf.reference")
HOSTNAME = "director.example"


def to_data(value: Any) -> Any:
    """Plain JSON-able data: dataclasses as dicts without source positions, enums as their
    values, sets sorted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            if f.name in ("where", "path"):
                continue
            out[f.name] = to_data(getattr(value, f.name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(to_data(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    return value


def config_data(config: Config) -> dict[str, Any]:
    data = to_data(config)
    data["warnings"] = [f"{w.line}: {w.message}" for w in config.warnings]
    return dict(data)


_SERVICES = {("http", "tcp"): 80, ("http", "udp"): 80, ("http", None): 80,
             ("ftp", "tcp"): 21, ("ftp", None): 21, ("domain", "tcp"): 53,
             ("domain", "udp"): 53, ("domain", None): 53}


class FakeSystem:
    """Resolves literals and localhost only, knows three services, touches no file."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    def host(self, name: str, ipv6: bool) -> str | None:
        self.lookups.append(name)
        if name == "localhost":
            return "::1" if ipv6 else "127.0.0.1"
        return literal_address(name, ipv6)

    def service_port(self, name: str, protocol: str | None) -> int | None:
        return _SERVICES.get((name, protocol))

    def appendable(self, path: str) -> str | None:
        return None if path.startswith("/dev/") or path.startswith("/tmp/") else \
            "No such file or directory"

    def is_dir(self, path: str) -> bool:
        return path in ("/", "/tmp")


def cfg(text: str) -> Config:
    """`text` parsed as `ldirectord.cf`, without I/O."""
    return parse(text, "ldirectord.cf", hostname="h", system=FakeSystem())


def errors(text: str) -> list[str]:
    """The errors of `text`, each as `ldirectord.cf:N: message`; it must not parse."""
    with pytest.raises(ConfigError) as info:
        cfg(text)
    return [str(m) for m in info.value.errors]
