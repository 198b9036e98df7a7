"""The host's wall clock jumps an hour forward and an hour back while the scheduler runs:
with time-machine moving ``time.time`` and ``datetime.now`` under running scheduler threads
(their monotonic clock and the database's clock do not move, as with a real clock step), and
with the clock the Scheduler takes (``ManualClock``), tick by tick.

Forward, the misfire policy applies to the hour skipped: ``run_once`` runs the latest
occurrence once and records one ``missed`` row stating how many it stands for; ``skip``
records them all as one ``missed`` row; ``run_all`` runs the oldest up to
``SCHEDULES_MAX_CATCH_UP`` and records the rest as one ``missed`` row. Back, nothing already
recorded fires again. The lease is judged by the database's clock: neither jump loses it or
hands it to the standby.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from django_schedules.clock import ManualClock
from django_schedules.models import Execution, MisfirePolicy, Schedule
from django_schedules.scheduler import BackgroundScheduler
from django_schedules.triggers import IntervalTrigger
from tests.polling import wait_until
from tests.scenarios.helpers import drive, manual_scheduler

from .harness import Figures, lease, poll_until, progress, scale, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

HOUR = timedelta(hours=1)
CAP = 5  # SCHEDULES_MAX_CATCH_UP in these tests
POLICIES = (MisfirePolicy.RUN_ONCE, MisfirePolicy.SKIP, MisfirePolicy.RUN_ALL)
MISSED = re.compile(r"^(\d+) occurrences? missed from (\S+) to (\S+)")


def make_schedules(start: datetime, every: int, grace: int) -> None:
    """One schedule per misfire policy; run_all's may run its whole catch-up at once."""
    trigger = IntervalTrigger(seconds=every, start_date=start).to_dict()
    for policy in POLICIES:
        Schedule.objects.create(
            job_id=f"clock-{policy}",
            func="tests.testapp.jobs.noop",
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=start,
            misfire_policy=policy,
            misfire_grace_time=grace,
            max_instances=CAP + 1,
        )


def account(figures: Figures, start: datetime, end: datetime, every: int) -> None:
    """Count every occurrence of the clock schedules in [start, end] into `figures`: each must
    be recorded once, by its own Execution or inside the span of a ``missed`` row whose count
    matches that span."""
    step = timedelta(seconds=every)
    expected = [start + step * i for i in range(int((end - start) / step) + 1)]
    for policy in POLICIES:
        covered: Counter[datetime] = Counter()
        for row in Execution.objects.filter(job_id=f"clock-{policy}", fire_time__lte=end):
            figures.firings += 1
            figures.runs += row.started_at is not None
            found = MISSED.match(row.reason) if row.status == "missed" else None
            if found is None:
                covered[row.fire_time] += 1
                continue
            first, last = (datetime.fromisoformat(found[i]) for i in (2, 3))
            span = [f for f in expected if first <= f <= last]
            assert len(span) == int(found[1]), (row.reason, len(span))
            covered.update(span)
        figures.duplicates += sum(1 for n in covered.values() if n > 1)
        figures.lost += sum(1 for f in expected if not covered[f])


def after_the_jump(jumped_at: datetime) -> dict[str, tuple[int, int]]:
    """(catch-up runs, missed rows) per policy among the occurrences after `jumped_at`."""
    rows = Execution.objects.filter(fire_time__gt=jumped_at)
    catch_ups = Counter(rows.filter(kind="catch_up").values_list("job_id", flat=True))
    missed = Counter(rows.filter(status="missed").values_list("job_id", flat=True))
    return {p: (catch_ups[f"clock-{p}"], missed[f"clock-{p}"]) for p in POLICIES}


# One missed row each, stating how many occurrences it stands for (checked by account()).
EXPECTED = {
    MisfirePolicy.RUN_ONCE: (1, 1),
    MisfirePolicy.SKIP: (0, 1),
    MisfirePolicy.RUN_ALL: (CAP, 1),
}


@override_settings(SCHEDULES_MAX_CATCH_UP=CAP)
def test_the_injected_clock_jumps_an_hour_forward_and_back() -> None:
    jumps = scale("CLOCK_JUMPS", 2)
    figures = Figures("clock jumps: injected clock")
    start = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    clock = ManualClock(start)
    make_schedules(start, every=60, grace=10)
    scheduler = manual_scheduler(clock, lease_ttl=3)
    drive(scheduler, clock, start + timedelta(minutes=5, seconds=20))
    epoch = scheduler.lease.epoch
    assert epoch is not None
    for i in range(jumps):
        jumped_at = clock.now()
        clock.set(jumped_at + HOUR)  # the last occurrence skipped is 20 s late: past the grace
        scheduler.tick()
        assert after_the_jump(jumped_at) == EXPECTED
        recorded = Execution.objects.count()
        clock.set(jumped_at)  # an hour back: the hour is recorded already
        drive(scheduler, clock, jumped_at + HOUR)
        assert Execution.objects.count() == recorded, "an occurrence fired again"
        drive(scheduler, clock, jumped_at + HOUR + timedelta(minutes=5))  # on time again
        figures.faults += 2
        progress(f"injected clock: jump {i + 1}/{jumps} forward and back")
    assert scheduler.lease.epoch == epoch and lease().epoch == epoch  # type: ignore[union-attr]
    account(figures, start, clock.now(), every=60)
    figures.record()
    figures.assert_clean()


def jump_and_back(traveller: time_machine.Coordinates, figures: Figures, every: int) -> None:
    """One cycle on fresh schedules: let them fire, jump an hour forward, check the catch-up,
    jump back, check that nothing fires again; count the occurrences into `figures`."""
    Execution.objects.all().delete()
    Schedule.objects.all().delete()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    make_schedules(start, every=every, grace=2)
    wait_for(lambda: Execution.objects.count() == len(POLICIES), 60, "the first firings")
    # Jump midway between two occurrences, so the last one skipped is past its grace.
    wait_until(
        lambda: 3 <= (datetime.now(UTC) - start).total_seconds() % every <= 7,
        timeout=60,
        interval=0.1,
        message="midway between two occurrences",
    )
    jumped_at = datetime.now(UTC)
    traveller.shift(HOUR)
    due = Schedule.objects.filter(next_run_at__lte=jumped_at + HOUR)
    wait_for(lambda: not due.exists(), 60, "the skipped hour to be claimed")
    assert after_the_jump(jumped_at) == EXPECTED
    live = Execution.objects.filter(status__in=["pending", "running"])
    wait_for(lambda: not live.exists(), 60, "the catch-up runs to end")
    recorded = Execution.objects.count()
    traveller.shift(-HOUR)
    figures.faults += 2
    time.sleep(3)  # several ticks an hour behind the schedules
    assert Execution.objects.count() == recorded, "an occurrence fired again"
    account(figures, start, jumped_at + HOUR, every=every)


@override_settings(SCHEDULES_MAX_CATCH_UP=CAP)
def test_the_host_clock_jumps_an_hour_forward_and_back_under_running_schedulers() -> None:
    jumps = scale("CLOCK_HOST_JUMPS", 1)
    figures = Figures("clock jumps: time-machine")
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        schedulers = [
            BackgroundScheduler(lease_ttl=3, poll_interval=0.2, lookahead=0.1) for _ in range(2)
        ]
        for background in schedulers:
            background.start()
        try:
            held = poll_until(
                lambda: (row := lease()) and row.owner and (row.owner, row.epoch), 60, "a leader"
            )
            for i in range(jumps):
                jump_and_back(traveller, figures, every=10)
                row = lease()
                assert row is not None and (row.owner, row.epoch) == held, "the lease moved"
                progress(f"time-machine: jump {i + 1}/{jumps} forward and back")
        finally:
            for background in schedulers:
                background.shutdown()
    figures.record()
    figures.assert_clean()
