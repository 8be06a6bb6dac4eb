"""Hypothesis settings for this suite."""

from tests import hypothesis_profiles  # noqa: F401  (registers and loads the profile)
