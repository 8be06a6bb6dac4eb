"""Hypothesis profiles for the suites that use it (kept out of the root conftest so the
kernel tests in the VM, which use no hypothesis, do not pay for importing it).

`ci` (the default) draws the same examples on every run, so a failure always reproduces and
a run never fails on a case no earlier run drew; `HYPOTHESIS_PROFILE=dev` draws new ones
each time, to explore.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    derandomize=True,
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
