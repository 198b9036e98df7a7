from __future__ import annotations

import re
import signal
from datetime import datetime, timedelta
from typing import Any

import pytest

from django_schedules import add_job
from django_schedules.models import Execution

from .helpers import clean, fires, scheduler_process, utcnow, wait_for, wait_until_leading

CAP = 2  # SCHEDULES_MAX_CATCH_UP in the scheduler processes
DOWNTIME = 6.0  # long enough that run_all misses more than its cap plus the grace
GAP = re.compile(
    r"^(?P<n>\d+) occurrences? missed from (?P<first>\S+) to (?P<last>\S+?)"
    r"(?P<beyond> \(beyond SCHEDULES_MAX_CATCH_UP\))?$"
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_after_downtime_missed_runs_fire_once_all_up_to_the_cap_or_none() -> None:
    """After an outage: the default fires once, ``run_all`` each missed run up to the cap,
    ``skip`` none; every missed occurrence is listed as missed.

    Koed00/django-q#577 and coldfront/coldfront#464: after downtime, a schedule fires once
    per missed run, and users get a flood of duplicate e-mails. Three 1-second schedules
    (misfire grace 1 s) run, the scheduler is stopped for 6 seconds and started again (with
    SCHEDULES_MAX_CATCH_UP=2):

    - the default policy (``run_once``, coalesce) runs the latest missed occurrence once;
    - ``run_all`` runs the oldest missed ones up to the cap (max_instances raised, as
      docs/scheduler.md says, so a backlog may run side by side);
    - ``skip`` runs none;

    and each records the occurrences it did not run as ``missed`` Executions whose reasons
    count them, so every occurrence of the outage is accounted for exactly once.
    """
    start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    common = {"trigger": "interval", "seconds": 1, "start_date": start, "misfire_grace_time": 1}
    add_job("scenarios.echo", id="default", **common)
    add_job("scenarios.echo", id="run-all", misfire_policy="run_all", max_instances=10, **common)
    add_job("scenarios.echo", id="skip", misfire_policy="skip", **common)
    ids = ("default", "run-all", "skip")
    with scheduler_process(SCENARIO_MAX_CATCH_UP=str(CAP)) as first:
        wait_until_leading(first)
        wait_for(lambda: all(fires(i, status="succeeded") for i in ids), 60, "a run of each")
        first.signal(signal.SIGTERM)
        first.process.wait(30)  # type: ignore[union-attr]
        stopped = utcnow()
        output = first.output()
    wait_for(lambda: utcnow() > stopped + timedelta(seconds=DOWNTIME), 30, "the outage")
    with scheduler_process(SCENARIO_MAX_CATCH_UP=str(CAP)) as second:
        wait_until_leading(second)
        back = utcnow()
        wait_for(
            lambda: all(fires(i, fire_time__gt=back, status="succeeded") for i in ids),
            60,
            "on-time runs again",
        )
        output += second.output()
    # The restarted scheduler's first pass: the rows it recorded at its first claim.
    epoch = max(e.epoch or 0 for e in Execution.objects.all())
    claimed = min(e.created_at for e in Execution.objects.filter(epoch=epoch))
    outcome = {}
    for job_id in ids:
        rows = fires(job_id, fire_time__gt=stopped - timedelta(seconds=1), fire_time__lt=back)
        outcome[job_id] = account(rows, stopped, back)
        # What the first pass started for the outage (a run on time, within the 1 s grace,
        # takes the place of the default policy's catch-up: docs/scheduler.md#misfires).
        outcome[job_id]["ran"] = [
            (e.kind, e.fire_time)
            for e in fires(job_id, epoch=epoch, fire_time__lte=claimed, status="succeeded")
        ]
    ran = {job_id: len(o["ran"]) for job_id, o in outcome.items()}
    assert ran["default"] == 1, outcome  # once, not once per missed run
    assert outcome["default"]["ran"][0][1] > max(outcome["default"]["missed"])  # the latest
    assert [kind for kind, _ in outcome["run-all"]["ran"]].count("catch_up") == CAP, outcome
    r = outcome["run-all"]
    assert max(r["catch_up"]) < min(r["missed"]) and r["beyond"] == [True], r  # the oldest
    assert outcome["skip"]["catch_up"] == [], outcome
    assert all(kind == "scheduled" for kind, _ in outcome["skip"]["ran"]), outcome
    assert all(len(o["missed"]) >= 2 for o in outcome.values()), outcome
    assert clean(output) == []


def account(rows: list[Execution], stopped: datetime, back: datetime) -> dict[str, list[Any]]:
    """Check every 1-second occurrence in the outage is recorded once, by its own Execution or
    inside the range of a ``missed`` one; return the catch-up and missed fire times."""
    covered: list[datetime] = []
    catch_up: list[datetime] = []
    missed: list[datetime] = []
    beyond: list[bool] = []
    for row in rows:
        if row.status == "missed":
            match = GAP.match(row.reason)
            assert match, row.reason
            first = datetime.fromisoformat(match["first"])
            last = datetime.fromisoformat(match["last"])
            n = int(match["n"])
            assert first == row.fire_time and last - first == timedelta(seconds=n - 1), row.reason
            span = [first + timedelta(seconds=k) for k in range(n)]
            covered += span
            missed += span
            beyond.append(bool(match["beyond"]))
        else:
            # skipped: an on-time run found the one before still going (a loaded machine).
            assert row.status in ("succeeded", "skipped"), (row.fire_time, row.status)
            covered.append(row.fire_time)
            if row.kind == "catch_up":
                catch_up.append(row.fire_time)
    assert len(covered) == len(set(covered)), "an occurrence is recorded twice"
    covered.sort()
    assert covered == [covered[0] + timedelta(seconds=k) for k in range(len(covered))], covered
    assert covered[0] <= stopped and covered[-1] >= back - timedelta(seconds=1), covered
    return {"catch_up": catch_up, "missed": missed, "beyond": beyond}
