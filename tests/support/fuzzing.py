"""Hypothesis example counts: modest by default, full on request.

`make test` runs the "quick" profile: every property-based test draws at most
QUICK_EXAMPLES examples. HYPOTHESIS_PROFILE=full restores the counts each fuzz test
names as its full budget (and Hypothesis's own default of 100 elsewhere):

    HYPOTHESIS_PROFILE=full make test
"""

from __future__ import annotations

import os

from hypothesis import settings

QUICK_EXAMPLES = 50
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "quick"

settings.register_profile("quick", max_examples=QUICK_EXAMPLES)
settings.register_profile("full")


def load_profile() -> None:
    settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """A fuzz test's example count: `full` under the full profile, else the profile's."""
    return full if PROFILE == "full" else min(full, settings().max_examples)
