"""Fixtures of the worker tests."""

from __future__ import annotations

import os
import uuid

import pytest

from .engines import EXECUTORS


@pytest.fixture
def queue() -> str:
    """A queue of the test's own: runs sharing the server never take each other's messages."""
    suffix = os.environ.get("SCHEDULES_TEST_DB_SUFFIX", "")
    return f"schedules_test{suffix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _executors(settings) -> None:
    # This process only writes schedules naming the engines' executors: the workers and the
    # scheduler read tests/workers/settings.py.
    settings.SCHEDULES_EXECUTORS = EXECUTORS
