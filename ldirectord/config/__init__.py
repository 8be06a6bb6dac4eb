"""ldirectord.cf parsing: text -> frozen Config, every problem reported with file:line.

    load(path)          read and parse a file
    parse(text, path)   parse text already read

Both raise `ldirectord.errors.ConfigError` carrying every error (sorted by line) and the
warnings; on success the warnings are in `Config.warnings`.
"""

from __future__ import annotations

import os

from ldirectord.config.build import build
from ldirectord.config.model import Config
from ldirectord.config.resolve import RealSystem, System
from ldirectord.errors import ConfigError, ConfigMessage

__all__ = ["Config", "ConfigError", "System", "default_hostname", "load", "parse"]


def default_hostname() -> str:
    """What fills `ldirectord@<HOSTNAME>`: env HOSTNAME, else the node name."""
    return os.environ.get("HOSTNAME") or os.uname().nodename


def parse(text: str | bytes, path: str, *, hostname: str | None = None,
          system: System | None = None) -> Config:
    """Parse config `text`; `path` names the file in messages (and, absolute, in Config.path).

    `system` resolves names and probes files (default: the real machine).
    """
    # surrogatepass: lone surrogates become bytes that the lexer reports as not UTF-8.
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return build(data, path, hostname=hostname or default_hostname(),
                 system=system or RealSystem())


def load(path: str, *, hostname: str | None = None, system: System | None = None) -> Config:
    """Read and parse the file at `path`; a file that cannot be read is a ConfigError."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([ConfigMessage(path, 0, f"can not open file {path}: {reason}")]
                          ) from exc
    return parse(data, path, hostname=hostname, system=system)
