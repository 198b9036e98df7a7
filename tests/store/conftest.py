from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from django_schedules.models import Execution, Schedule


def snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every schedule and execution row, to prove a failed call wrote nothing."""
    return (
        list(Schedule.objects.order_by("pk").values()),
        list(Execution.objects.order_by("pk").values()),
    )


@pytest.fixture
def unchanged_db() -> Callable[[], None]:
    """Call the returned function after a failing API call: the tables must be as they were."""
    before = snapshot()

    def check() -> None:
        assert snapshot() == before

    return check
