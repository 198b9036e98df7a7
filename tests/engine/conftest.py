from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from django_schedules.clock import ManualClock
from django_schedules.executors import Executor, InlineExecutor
from django_schedules.models import Schedule
from django_schedules.scheduler import Scheduler
from tests.engine import jobs

NOW = datetime(2030, 1, 7, 12, 0, 0, tzinfo=UTC)


class RecordingExecutor(Executor):
    """Remembers what it was handed and runs nothing."""

    def __init__(
        self,
        name: str = "default",
        options: dict[str, Any] | None = None,
        *,
        using: str = "default",
    ) -> None:
        super().__init__(name, options or {}, using=using)
        self.submitted: list[tuple[int, int | None]] = []

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        self.submitted.append((execution_id, epoch))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture(autouse=True)
def _reset_jobs() -> None:
    jobs.RUNS.clear()
    jobs.ATTEMPTS.clear()
    jobs.RELEASE.clear()


def make_scheduler(
    clock: ManualClock, executor: Executor | None = None, **kwargs: Any
) -> Scheduler:
    executor = executor or InlineExecutor("default", {}, using="default")
    kwargs.setdefault("lookahead", 0.0)
    return Scheduler(clock=clock, executors={"default": executor}, **kwargs)


def interval_schedules(
    count: int,
    start: datetime,
    *,
    seconds: int = 60,
    func: str = "engine.record",
    prefix: str = "s",
) -> None:
    """`count` interval schedules all due at `start`, written in one bulk insert."""
    from django_schedules.triggers import IntervalTrigger

    trigger = IntervalTrigger(seconds=seconds, start_date=start).to_dict()
    Schedule.objects.bulk_create(
        Schedule(
            job_id=f"{prefix}{n}",
            func=func,
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=start,
        )
        for n in range(count)
    )


def interval_schedule(
    job_id: str,
    seconds: int = 60,
    *,
    func: str = "engine.record",
    next_run_at: datetime | None = NOW,
    start: datetime = NOW,
    **fields: Any,
) -> Schedule:
    from django_schedules.triggers import IntervalTrigger

    trigger = IntervalTrigger(seconds=seconds, start_date=start)
    return Schedule.objects.create(
        job_id=job_id,
        func=func,
        trigger=trigger.to_dict(),
        trigger_kind="interval",
        next_run_at=next_run_at,
        **fields,
    )
