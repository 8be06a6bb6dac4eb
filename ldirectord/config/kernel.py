"""What the kernel (or ipvsadm) is known to refuse, found at load time with the backends' own
rules (`ldirectord.ipvs.rules`), so that `-t`, `start` and a reload refuse it on its line
instead of the kernel refusing one virtual at run time.
"""

from __future__ import annotations

from typing import Final

from ldirectord.config import keys
from ldirectord.config.model import Fallback, RealServer, VirtualService
from ldirectord.errors import IPVSError
from ldirectord.ipvs import rules

# rules.SCHEDULERS is what the backends' kernels have; twos (Linux 6.2) is a kernel
# scheduler too and a file may name it.
SCHEDULERS: Final = rules.SCHEDULERS | {"twos"}
_NAMES: Final = sorted(SCHEDULERS)
_SCHEDULER_LIST: Final = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]
_FLAG_SCHEDULERS: Final = ("sh", "mh")
KNOWN_FLAGS: Final = tuple(dict.fromkeys(
    [*sorted(rules.sched_flag_order("wrr")),
     *(f for s in _FLAG_SCHEDULERS for f in rules.sched_flag_order(s))]))


def scheduler_error(name: str) -> str | None:
    if name in SCHEDULERS:
        return None
    return f'unknown scheduler "{name}": the kernel has {_SCHEDULER_LIST}'


def _flag_works(scheduler: str, flag: str) -> bool:
    try:
        rules.sched_flag_bits(scheduler, frozenset({flag}))
    except IPVSError:
        return False
    return True


def schedflags_error(scheduler: str, text: str) -> str | None:
    """Why ipvsadm refuses these `schedflags` for `scheduler` (first bad flag as written)."""
    for flag in (f for f in text.split(",") if f):
        if _flag_works(scheduler, flag):
            continue
        owner = next((s for s in _FLAG_SCHEDULERS if _flag_works(s, flag)), None)
        if owner is None:
            return f'unknown scheduler flag "{flag}" (known: {", ".join(KNOWN_FLAGS)})'
        return f'scheduler flag "{flag}" needs scheduler={owner}, not {scheduler}'
    return None


def real_error(vs: VirtualService, real: RealServer) -> str | None:
    if real.lower_threshold > real.upper_threshold:
        return (f"lower threshold l:{real.lower_threshold} is above the upper threshold "
                f"u:{real.upper_threshold}: the kernel refuses it (set u: to at least "
                f"{real.lower_threshold})")
    try:
        rules.check_dest(keys.service_key(vs), keys.real_key(vs, real), keys.dest_attrs(real))
    except IPVSError as exc:
        return f"the kernel would refuse this real server: {exc}"
    return None


def fallback_error(vs: VirtualService, fallback: Fallback) -> str | None:
    try:
        rules.check_dest(keys.service_key(vs), keys.fallback_key(vs, fallback),
                         keys.fallback_attrs(fallback))
    except IPVSError as exc:
        return f"the kernel would refuse this fallback server: {exc}"
    return None


def service_error(vs: VirtualService) -> str | None:
    """Anything else the backends' rules refuse for the virtual service itself."""
    try:
        rules.check_service(keys.service_key(vs), keys.service_attrs(vs))
    except IPVSError as exc:
        return f"the kernel would refuse this virtual service: {exc}"
    return None
