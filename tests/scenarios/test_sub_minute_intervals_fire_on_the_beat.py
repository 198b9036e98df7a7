from __future__ import annotations

from datetime import timedelta

import pytest

from django_schedules import add_job

from .helpers import clean, fires, scheduler_process, utcnow, wait_for, wait_until_leading

SECONDS = 9  # the minute, scaled
INTERVALS = {"every-1s": 1, "every-3s": 3}  # the 1 s and 10 s (scaled to 3 s)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_and_three_second_intervals_fire_on_the_beat_without_drift() -> None:
    """Sub-minute intervals fire every time, on their exact beat.

    django-q2/django-q2#265: schedules cannot run more often than once a minute, and short
    intervals drift as each run is scheduled from the end of the last. The issue's case
    (1 s and 10 s for a minute) scaled to 1 s and 3 s for 9 seconds: every occurrence runs
    once, each fire time is exactly the start plus a whole number of intervals, and each run
    starts within a fraction of a second of it (generous bound; the figure is a benchmark's).
    """
    with scheduler_process() as proc:
        wait_until_leading(proc)
        # The schedules start once the scheduler leads: a slow start-up on a loaded machine
        # must not make the first beats late (their lateness is what this test measures).
        start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        for job_id, interval in INTERVALS.items():
            # max_instances=3: a run slowed by a loaded machine must not turn the next beat
            # into a skip (overlap control is scenario 12's subject).
            add_job(
                "scenarios.echo",
                "interval",
                seconds=interval,
                start_date=start,
                id=job_id,
                max_instances=3,
            )
        end = start + timedelta(seconds=SECONDS)
        wait_for(lambda: fires("every-1s", fire_time=end, status="succeeded"), 60, "the end")
        wait_for(lambda: fires("every-3s", fire_time=end, status="succeeded"), 60, "the end")
        output = proc.output()
    for job_id, interval in INTERVALS.items():
        runs = fires(job_id, fire_time__lte=end)
        assert [e.fire_time for e in runs] == [
            start + timedelta(seconds=k) for k in range(0, SECONDS + 1, interval)
        ], job_id
        assert {(e.kind, e.status) for e in runs} == {("scheduled", "succeeded")}, job_id
        late = [(e.started_at - e.fire_time).total_seconds() for e in runs]  # type: ignore[operator]
        assert min(late) >= 0 and max(late) < 1.0, (job_id, late)
    assert clean(output) == []
