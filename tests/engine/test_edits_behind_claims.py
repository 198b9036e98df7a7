"""An edit that computes a schedule's next run from "now" (resume_job, reschedule_job,
modify_job(trigger=...), add_job(replace_existing=True)) right after a claim took the coming
occurrence ahead of its instant (the claim's look-ahead), then a leader frozen past the misfire
grace: every occurrence keeps exactly one record, its own Execution or a place in a ``missed``
range (issue 21, part 3).

Without a guard the edit moves ``next_run_at`` back onto the occurrence already claimed; the
next claim plans it again, records the misfired run of occurrences as one ``missed`` row at
that same fire time, and the unique (schedule, fire_time) constraint drops that row (ON
CONFLICT DO NOTHING): the occurrences after it are left with no record at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from django_schedules import api
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, Schedule
from django_schedules.triggers import CronTrigger, trigger_from_dict

from .conftest import NOW, RecordingExecutor, make_scheduler

pytestmark = pytest.mark.django_db

F1 = NOW + timedelta(seconds=10)  # the first occurrence of "every 10 seconds"
MISSED = re.compile(r"^(\d+) occurrences? missed from (\S+) to (\S+)")

# Each edit, and how long before its commit it read the clock: 0.04 s (right after the claim
# ahead), or 3 s (it waited that long for a lock, as an edit does on SQLite while a frozen
# leader holds the file's lock).
EDITS: dict[str, tuple[Callable[[], object], float]] = {
    "pause_and_resume": (lambda: (api.pause_job("job"), api.resume_job("job")), 0.04),
    "reschedule_job": (lambda: api.reschedule_job("job", trigger="cron", second="*/5"), 0.04),
    "reschedule_job, now read before a lock wait": (
        lambda: api.reschedule_job("job", trigger="cron", second="*/5"),
        3.0,
    ),
    "modify_job(trigger)": (
        lambda: api.modify_job("job", trigger=CronTrigger(second="*/5", timezone="UTC")),
        0.04,
    ),
    "add_job(replace_existing)": (lambda: add("*/5", replace_existing=True), 0.04),
}


def add(seconds: str, **options: Any) -> Schedule:
    return api.add_job(
        "engine.record",
        "cron",
        id="job",
        second=seconds,
        timezone="UTC",
        misfire_grace_time=1,
        **options,
    )


def records(job_id: str) -> Counter[datetime]:
    """Records per occurrence: an Execution of its own, or a place in a missed range."""
    trigger = trigger_from_dict(Schedule.objects.get(job_id=job_id).trigger)
    counts: Counter[datetime] = Counter()
    for fire, status, reason in Execution.objects.filter(job_id=job_id).values_list(
        "fire_time", "status", "reason"
    ):
        found = MISSED.match(reason) if status == "missed" else None
        if found is None:  # its own record (a run missed at its start is one too)
            counts[fire] += 1
            continue
        first, last = datetime.fromisoformat(found[2]), datetime.fromisoformat(found[3])
        covered = 0
        at: datetime | None = first
        while at is not None and at <= last:
            counts[at.astimezone(UTC)] += 1
            covered += 1
            at = trigger.get_next_fire_time(at, at)
        assert covered == int(found[1]), (reason, covered)
    return counts


@pytest.mark.parametrize("policy", ["skip", "run_once"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_right_after_a_claim_ahead_leaves_every_occurrence_one_record(
    clock: ManualClock, edit: str, policy: str
) -> None:
    with time_machine.travel(NOW + timedelta(seconds=1), tick=False):
        add("*/10", misfire_policy=policy)
    scheduler = make_scheduler(clock, RecordingExecutor(), lookahead=0.1)
    clock.set(F1 - timedelta(seconds=0.05))
    scheduler.tick()  # claims F1 ahead of its instant
    assert list(Execution.objects.values_list("fire_time", flat=True)) == [F1]
    call, before = EDITS[edit]
    with time_machine.travel(F1 - timedelta(seconds=before), tick=False):
        call()
    clock.set(F1 + timedelta(seconds=25))  # frozen past the grace of the next occurrences
    scheduler.tick()
    scheduler.tick()
    schedule = Schedule.objects.get(job_id="job")
    trigger = trigger_from_dict(schedule.trigger)
    fire: datetime | None = trigger.get_next_fire_time(F1, F1)
    occurrences = [F1]
    while fire is not None and fire < schedule.next_run_at:  # type: ignore[operator]
        occurrences.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    counts = records("job")
    assert len(occurrences) >= 3  # F1, and misfired ones after it
    assert {f: counts[f] for f in occurrences} == dict.fromkeys(occurrences, 1), list(
        Execution.objects.values_list("fire_time", "status", "reason")
    )
