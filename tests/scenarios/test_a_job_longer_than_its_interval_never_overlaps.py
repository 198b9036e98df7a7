from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from django_schedules import add_job

from .helpers import clean, fires, scheduler_process, utcnow, wait_for, wait_until_leading

JOB_SECONDS = 1.5
OCCURRENCES = 5


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_longer_than_its_interval_is_not_started_again_while_it_runs() -> None:
    """A run that outlasts the interval is never overlapped; each skipped start says why.

    django-q2/django-q2#96: a schedule whose task takes longer than its interval piles up
    overlapping runs. Here a 1-second schedule runs a 1.5-second job with max_instances=1 (the
    default): no two runs overlap, every occurrence has one Execution, and those that could
    not start are recorded as skipped with the reason.
    """
    start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    add_job(
        "scenarios.sleep",
        "interval",
        seconds=1,
        start_date=start,
        id="slow-report",
        kwargs={"seconds": JOB_SECONDS},
    )
    last = start + timedelta(seconds=OCCURRENCES - 1)
    with scheduler_process() as proc:
        wait_until_leading(proc)
        wait_for(
            lambda: fires("slow-report", fire_time=last, status__in=["succeeded", "skipped"]),
            60,
            "the last occurrence",
        )
        wait_for(lambda: not fires("slow-report", status="running"), 60, "the run to end")
        output = proc.output()
    runs = fires("slow-report", fire_time__lte=last)
    assert [e.fire_time for e in runs] == [start + timedelta(seconds=k) for k in range(OCCURRENCES)]
    ran = [e for e in runs if e.status == "succeeded"]
    skipped = [e for e in runs if e.status == "skipped"]
    assert len(ran) + len(skipped) == OCCURRENCES and len(ran) >= 2 and len(skipped) >= 2
    assert {e.reason for e in skipped} == {"max_instances reached (1 already running)"}
    for before, after in itertools.pairwise(ran):
        assert before.finished_at <= after.started_at, (before, after)  # type: ignore[operator]
    assert clean(output) == []
