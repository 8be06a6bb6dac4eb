"""What travels on the supervisor's one queue: results, reload and stop requests, repairs."""

from __future__ import annotations

from dataclasses import dataclass

from ldirectord.engine import CheckId
from ldirectord.runtime.scheduler import Observation


@dataclass(frozen=True, slots=True)
class Reload:
    reason: str  # "signal", "action" (also SIGHUP), "autoreload"


@dataclass(frozen=True, slots=True)
class Stop:
    signame: str


@dataclass(frozen=True, slots=True)
class Repair:
    pass


@dataclass(frozen=True, slots=True)
class Observed:
    cid: CheckId
    generation: int
    observation: Observation


Message = Reload | Stop | Repair | Observed
