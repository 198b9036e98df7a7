from __future__ import annotations

import signal
from datetime import timedelta

import pytest

from django_schedules.models import Schedule
from tests.engine.test_processes import assert_each_occurrence_once, make_schedules

from .helpers import clean, leader_pid, scheduler_process, utcnow, wait_for

SCHEDULES = 10
SECONDS = 6


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_instances_started_by_an_autoscaler_or_a_deploy_fire_each_occurrence_once() -> None:
    """Several scheduler instances never fire an occurrence twice.

    celery/django-celery-beat#337 and #576 (two beat instances after a deploy or with several
    replicas send every task twice), jcass77/django-apscheduler#156 (one scheduler per
    gunicorn worker runs each job once per worker).

    Three instances start together, as an autoscaler starts replicas; a fourth joins halfway
    and the leader is replaced by SIGTERM, as a rolling deploy does. Ten 1-second schedules
    for six seconds: every occurrence has exactly one Execution.
    """
    start = utcnow().replace(microsecond=0) + timedelta(seconds=3)
    make_schedules(SCHEDULES, start)
    # Overlap control is scenario 12's subject: here a run slowed by a loaded machine must not
    # turn the next occurrence into a skip.
    Schedule.objects.update(max_instances=5)
    end = start + timedelta(seconds=SECONDS)
    procs = [scheduler_process() for _ in range(3)]
    for proc in procs:
        proc.__enter__()
    try:
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: utcnow() > start + timedelta(seconds=SECONDS / 2), 60, "halfway")
        procs.append(scheduler_process().__enter__())
        first = next(p for p in procs if p.process and p.process.pid == leader_pid())
        first.signal(signal.SIGTERM)  # the deploy replaces the leader
        wait_for(lambda: utcnow() > end + timedelta(seconds=1.5), 60, "the end")
        # A loaded machine may take longer than the rest of the run to boot the fourth: it is
        # stopped once up (SIGTERM before its handler is installed is not a clean stop).
        wait_for(lambda: "started" in procs[-1].output(), 60, "the fourth instance")
    finally:
        outputs = [p.output() for p in procs]
        codes = [p.stop() for p in procs]
        for proc in procs:
            proc.__exit__(None, None, None)
    assert codes == [0, 0, 0, 0], outputs
    statuses = assert_each_occurrence_once(start, end, SCHEDULES)
    assert set(statuses) == {"succeeded"}, statuses
    assert [line for out in outputs for line in clean(out)] == []
