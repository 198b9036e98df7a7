"""Shared by the hostile-input tests: hypothesis settings and what a refusal must not change."""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

# Fuzzing settings for every test here. Examples stay few enough for the suite to stay fast on
# three databases; CI (CI=true) derandomizes them so a red run reproduces. The deadline is a
# hang detector, far above what one example takes (well under 50 ms), not a speed target.
FUZZ = settings(
    max_examples=int(os.environ.get("SCHEDULES_FUZZ_EXAMPLES", "150")),
    deadline=timedelta(seconds=5),
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# The same for examples that go through a database or the test client: fewer, and a deadline
# that also covers waiting for a database lock on a loaded machine.
FUZZ_DB = settings(
    FUZZ, max_examples=max(FUZZ.max_examples // 3, 10), deadline=timedelta(seconds=15)
)
