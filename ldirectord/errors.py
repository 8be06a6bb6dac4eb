"""The exception tree of the daemon, in one place.

    LdirectordError
    ├── ConfigError            a config file is wrong; carries every ConfigMessage at once
    └── IPVSError              the kernel (or ipvsadm, or the memory table) refused an operation
        ├── AlreadyExists      EEXIST: service or destination already there
        ├── NotFound           ENOENT/ESRCH: no such service, destination or scheduler
        ├── InvalidArgument    EINVAL and friends: the kernel rejected the values
        ├── PermissionDenied   EPERM/EACCES: not root / no CAP_NET_ADMIN
        └── IPVSUnavailable    no IPVS in this kernel, no netlink family, no ipvsadm
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ldirectord.logsetup import escape_controls

if TYPE_CHECKING:
    from ldirectord.ipvs.model import Op


class LdirectordError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigMessage:
    """One error or warning about a config file; `line` is 0 for whole-file messages."""

    path: str
    line: int
    message: str

    def __post_init__(self) -> None:
        # Text from the file (and its name) is shown with its control characters escaped.
        object.__setattr__(self, "path", escape_controls(self.path))
        object.__setattr__(self, "message", escape_controls(self.message))

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}: {self.message}"
        return f"{self.path}: {self.message}"


class ConfigError(LdirectordError):
    """One or more problems in a config file; `errors` holds them sorted by line."""

    def __init__(
        self,
        errors: Sequence[ConfigMessage],
        warnings: Sequence[ConfigMessage] = (),
    ) -> None:
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        super().__init__("\n".join(str(e) for e in self.errors))


class IPVSError(LdirectordError):
    """An IPVS operation failed; `op` is the operation that failed, when there is one."""

    def __init__(self, message: str, op: Op | None = None) -> None:
        super().__init__(message)
        self.op = op


class AlreadyExists(IPVSError):
    pass


class NotFound(IPVSError):
    pass


class InvalidArgument(IPVSError):
    pass


class PermissionDenied(IPVSError):
    pass


class IPVSUnavailable(IPVSError):
    pass
