from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections

from django_schedules.models import Execution
from tests.polling import wait_until
from tests.schedulers import jobs  # noqa: F401 - registers the jobs

FAST = {"poll_interval": 0.05, "lease_ttl": 5, "shutdown_grace": 5}


def results(status: str = "succeeded") -> list[str]:
    """The results of the executions with `status`, oldest first (closes this thread's
    connection: the pollers run in several threads)."""
    try:
        return list(
            Execution.objects.filter(status=status).order_by("id").values_list("result", flat=True)
        )
    finally:
        connections.close_all()


def wait_for_results(count: int, timeout: float = 60) -> list[str]:
    return wait_until(
        lambda: (found := results()) and len(found) >= count and found,
        timeout=timeout,
        message=f"{count} succeeded execution(s)",
    )


@pytest.fixture
def fast() -> Iterator[dict[str, float]]:
    yield dict(FAST)
