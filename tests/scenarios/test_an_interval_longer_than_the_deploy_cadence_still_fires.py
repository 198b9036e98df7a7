from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from django_schedules import add_job

from .helpers import clean, fires, scheduler_process, utcnow, wait_for, wait_until_leading

INTERVAL = 5  # the 25 s, scaled by 1/5
RESTART_EVERY = 2  # the 10 s, scaled by 1/5
OCCURRENCES = 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_interval_longer_than_the_deploy_cadence_still_fires_on_its_beat() -> None:
    """An interval schedule fires on its beat although the scheduler restarts more often.

    celery/django-celery-beat#634: beat restarted every few minutes by deploys never runs a
    schedule whose interval is longer than that, because each start counts the interval from
    zero. The issue's case (restart every 10 s, 25 s interval) scaled by 1/5: a rolling
    restart every 2 s (the new process starts, then the old one gets SIGTERM), a 5 s interval,
    three occurrences. The next run lives in the database, so each fires once, on time.
    """
    outputs: list[str] = []
    current = scheduler_process().__enter__()
    wait_until_leading(current)
    start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    end = start + timedelta(seconds=INTERVAL * (OCCURRENCES - 1))
    # end_date: the schedule has exactly OCCURRENCES occurrences, so a deploy that a loaded
    # machine stretches past the last one cannot add a fourth, legitimate, run to the list.
    add_job(
        "scenarios.echo", "interval", seconds=INTERVAL, start_date=start, end_date=end, id="digest"
    )
    restarts: list[datetime] = []  # when each new process took over
    due = utcnow()
    new = current
    try:
        while utcnow() < end + timedelta(seconds=1):
            # A rolling deploy: the new process boots as a standby, then the old one stops.
            new = scheduler_process().__enter__()
            wait_for(lambda new=new: "started" in new.output(), 60, "the new process")
            due += timedelta(seconds=RESTART_EVERY)
            wait_for(lambda due=due: utcnow() >= due, 60, "the next deploy")
            assert current.stop() == 0
            outputs.append(current.output())
            current.__exit__(None, None, None)
            current = new
            wait_until_leading(current)
            restarts.append(utcnow())
    finally:
        for proc in {id(current): current, id(new): new}.values():
            if not proc.log.closed:  # still running (an assertion may have cut the loop)
                outputs.append(proc.output())
                proc.__exit__(None, None, None)
    runs = fires("digest")
    assert [e.fire_time for e in runs] == [
        start + timedelta(seconds=INTERVAL * k) for k in range(OCCURRENCES)
    ]
    assert {(e.kind, e.status) for e in runs} == {("scheduled", "succeeded")}
    # Every interval between two runs saw at least one restart (the cadence is shorter).
    for before, after in itertools.pairwise(runs):
        assert any(before.fire_time < r < after.fire_time for r in restarts), restarts
    late = [(e.started_at - e.fire_time).total_seconds() for e in runs]  # type: ignore[operator]
    assert max(late) < 2.0, late  # a poll or two at most; the real figure is a benchmark's
    assert [line for out in outputs for line in clean(out)] == []
