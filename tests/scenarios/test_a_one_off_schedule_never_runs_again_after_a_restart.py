from __future__ import annotations

import signal
from datetime import timedelta

import pytest

from django_schedules import add_job
from django_schedules.models import Execution, Schedule

from .helpers import TTL, clean, fires, scheduler_process, utcnow, wait_for, wait_until_leading


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("how", "when"),
    [(signal.SIGTERM, "succeeded"), (signal.SIGKILL, "running")],
    ids=["sigterm-after-it-ran", "sigkill-while-it-runs"],
)
def test_a_one_off_schedule_never_runs_again_when_the_scheduler_restarts(
    how: signal.Signals, when: str
) -> None:
    """A date schedule runs once, even when the scheduler restarts seconds after it ran.

    celery/django-celery-beat#828: a clocked one-off task runs again after beat restarts.
    Here the schedule's next run is cleared in the transaction that records its Execution, so
    a restart has nothing left to fire: stopped cleanly right after the run, or killed while
    the run is in progress (that run is then recorded as lost, not run again).
    """
    add_job(
        "scenarios.sleep",
        "date",
        run_date=utcnow() + timedelta(seconds=2),
        id="once",
        kwargs={"seconds": 1.0},
    )
    with scheduler_process() as first:
        wait_until_leading(first)
        wait_for(lambda: Execution.objects.filter(status=when).exists(), 60, f"a {when} run")
        first.signal(how)
        first.process.wait(30)  # type: ignore[union-attr]
        output = first.output()
    with scheduler_process() as second:
        wait_until_leading(second, timeout=TTL + 60)
        if when == "running":
            # The new leader finds the run without a heartbeat and records it as lost.
            wait_for(lambda: Execution.objects.filter(status="lost").exists(), 60, "lost")
        restarted = utcnow()
        wait_for(lambda: utcnow() > restarted + timedelta(seconds=2), 10, "ten polls")
        output += second.output()
    runs = fires("once")
    assert [(e.kind, e.status) for e in runs] == [
        ("scheduled", "succeeded" if when == "succeeded" else "lost")
    ]
    assert Schedule.objects.get(job_id="once").next_run_at is None
    assert clean(output) == []
