"""``metrics/``: the Prometheus exposition (docs/metrics.md): who may read it, the counters
kept by real runs through the engine, and a scrape whose query count does not grow with
the number of schedules."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from django_schedules.clock import ManualClock
from django_schedules.models import Execution, ExecutionStatus, MisfirePolicy, Schedule
from django_schedules.store.metrics import Tally, add_counts
from tests.engine.conftest import NOW, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db

URL = "/schedules/metrics/"
TOKEN = "s3cret-token-of-some-length"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, parsed back by prometheus_client's own parser."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with override_settings(SCHEDULES_METRICS_PUBLIC=True):
        response = client.get(URL)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(response.content.decode())


def runs(found: dict[Any, float], status: str) -> float:
    return found[("django_schedules_runs_total", (("status", status),))]


def test_the_url_is_the_apps_own() -> None:
    assert reverse("django_schedules:metrics") == URL


# -- who may read it ------------------------------------------------------------------------


def test_anonymous_is_refused_403_by_default(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 403
    assert b"django_schedules_" not in response.content


def test_an_active_staff_session_may_read_it_never_cached(client: Client) -> None:
    client.force_login(User.objects.create_user("ops", is_staff=True))
    response = client.get(URL)
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
    assert client.head(URL).status_code == 200


def test_a_non_staff_or_inactive_session_may_not(client: Client) -> None:
    client.force_login(User.objects.create_user("user"))
    assert client.get(URL).status_code == 403
    User.objects.create_user("gone", is_staff=True, is_active=False)
    client.logout()
    client.force_login(User.objects.get(username="gone"))
    assert client.get(URL).status_code == 403


@override_settings(SCHEDULES_METRICS_TOKEN=TOKEN)
def test_the_bearer_token_opens_it_and_a_wrong_one_is_401(client: Client) -> None:
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    wrong = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert client.get(URL).status_code == 403


def test_a_bearer_token_opens_nothing_when_no_token_is_set(client: Client) -> None:
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer None").status_code == 401


@override_settings(SCHEDULES_METRICS_PUBLIC=True)
def test_public_opens_it_to_anyone(client: Client) -> None:
    assert client.get(URL).status_code == 200


@override_settings(SCHEDULES_METRICS_PUBLIC=True)
def test_it_answers_501_naming_the_extra_without_prometheus_client(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules is what a missing package looks like to an import.
    for name in [m for m in sys.modules if m.split(".")[0] == "prometheus_client"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    response = client.get(URL)
    assert response.status_code == 501
    assert b"django-schedules[prometheus]" in response.content


def test_only_get_and_head(client: Client) -> None:
    with override_settings(SCHEDULES_METRICS_PUBLIC=True):
        assert client.post(URL).status_code == 405


# -- the counters, from real runs -------------------------------------------------------------


def test_runs_through_the_engine_are_counted_and_pruning_does_not_lower_them(
    client: Client, clock: ManualClock
) -> None:
    before = scrape(client)
    assert runs(before, "succeeded") == 0 and runs(before, "missed") == 0
    interval_schedule("ok", 60)
    interval_schedule("bad", 60, func="engine.boom")
    interval_schedule(
        "late",
        60,
        misfire_grace_time=30,
        misfire_policy=MisfirePolicy.SKIP,
        next_run_at=NOW - timedelta(minutes=10),
    )
    scheduler = make_scheduler(clock)
    scheduler.tick()
    scheduler.tick()
    clock.advance(60)
    scheduler.tick()
    scheduler.tick()
    by_status = {
        s: Execution.objects.filter(status=s).count() for s in ("succeeded", "failed", "missed")
    }
    assert by_status["succeeded"] >= 2 and by_status["failed"] == 2 and by_status["missed"] >= 1
    after = scrape(client)
    for status, n in by_status.items():
        assert runs(after, status) == n, status
    count = after[("django_schedules_duration_seconds_count", ())]
    assert count == by_status["succeeded"] + by_status["failed"]
    inf = after[("django_schedules_duration_seconds_bucket", (("le", "+Inf"),))]
    assert inf == count and after[("django_schedules_duration_seconds_sum", ())] >= 0
    assert after[("django_schedules_lateness_seconds_count", ())] == count
    assert after[("django_schedules_claim_batch_size_count", ())] >= 2
    # The per-schedule gauges, from the executions and schedules as they are.
    ok = (("schedule", "ok"),)
    assert after[("django_schedules_next_run_timestamp_seconds", ok)] == (
        Schedule.objects.get(job_id="ok").next_run_at.timestamp()  # type: ignore[union-attr]
    )
    assert ("django_schedules_last_success_timestamp_seconds", ok) in after
    assert ("django_schedules_last_success_timestamp_seconds", (("schedule", "bad"),)) not in after
    assert (
        after[("django_schedules_last_outcome", (("schedule", "bad"), ("status", "failed")))] == 1
    )

    Execution.objects.update(created_at=datetime(2001, 1, 1, tzinfo=UTC))
    call_command("pruneexecutions", "--older-than", "1d", stdout=StringIO())
    assert not Execution.objects.exists()
    pruned = scrape(client)
    for status, n in by_status.items():
        assert runs(pruned, status) == n, status
    assert pruned[("django_schedules_duration_seconds_count", ())] == count
    assert ("django_schedules_last_success_timestamp_seconds", ok) not in pruned


def test_a_finish_tried_again_after_a_lost_reply_is_counted_once(clock: ManualClock) -> None:
    from django_schedules import store

    interval_schedule("job", 60)
    scheduler = make_scheduler(clock)
    scheduler.tick()
    scheduler.tick()
    execution = Execution.objects.get()
    end = store.Finish(
        execution.pk, execution.attempt, ExecutionStatus.SUCCEEDED, NOW, timedelta(seconds=1)
    )
    assert execution.status == ExecutionStatus.SUCCEEDED
    # A finish of a row already finished (the earlier try landed): nothing more is counted.
    from django_schedules.models import MetricCounter

    total = MetricCounter.objects.get(metric="runs", label="succeeded").value
    assert store.finish_executions([end], "default") == set()
    assert MetricCounter.objects.get(metric="runs", label="succeeded").value == total


def test_increments_add_up_in_one_statement() -> None:
    from django_schedules.models import MetricCounter

    with CaptureQueriesContext(connection) as queries:
        add_counts(Tally().run("failed", 2).observe("duration_seconds", 0.3), "default")
    assert len(queries) == 1
    add_counts(Tally().run("failed").observe("duration_seconds", 0.7), "default")
    rows = dict(
        MetricCounter.objects.values_list("label", "value").filter(
            metric__in=["runs", "duration_seconds"]
        )
    )
    assert rows["failed"] == 3 and rows["0.5"] == 1 and rows["1.0"] == 1
    assert rows["sum"] == pytest.approx(1.0)


# -- the scrape's cost ----------------------------------------------------------------------


def _schedules(n: int) -> None:
    Schedule.objects.bulk_create(
        Schedule(
            job_id=f"bulk-{i}",
            func="engine.record",
            trigger={"kind": "interval"},
            trigger_kind="interval",
            next_run_at=NOW + timedelta(seconds=i),
        )
        for i in range(n)
    )


def test_the_scrape_runs_as_many_queries_at_1000_schedules_as_at_10() -> None:
    from django_schedules import metrics

    counts = []
    for n in (10, 990):
        _schedules(n) if n == 10 else Schedule.objects.bulk_create(
            Schedule(
                job_id=f"more-{i}",
                func="engine.record",
                trigger={"kind": "interval"},
                trigger_kind="interval",
                next_run_at=NOW,
            )
            for i in range(n)
        )
        with CaptureQueriesContext(connection) as queries:
            text, _ = metrics.exposition()
        counts.append(len(queries))
        found = samples(text.decode())
        shown = [k for k in found if k[0] == "django_schedules_next_run_timestamp_seconds"]
        assert len(shown) == Schedule.objects.count()
    assert counts[0] == counts[1] == 5


def test_a_schedule_name_is_escaped_in_the_exposition(client: Client) -> None:
    Schedule.objects.create(
        job_id='we"ird\\name\nx',
        func="engine.record",
        trigger={"kind": "interval"},
        trigger_kind="interval",
        next_run_at=NOW,
    )
    found = scrape(client)
    assert (
        "django_schedules_next_run_timestamp_seconds",
        (("schedule", 'we"ird\\name\nx'),),
    ) in found


@override_settings(SCHEDULES_METRICS_PUBLIC=True)
def test_the_leader_standbys_and_epoch_are_shown(client: Client) -> None:
    from tests.ops.test_status import hold_lease, report

    report("web-1:101:a")
    report("web-2:102:b", role="standby")
    hold_lease("web-1:101:a")
    found = samples(client.get(URL).content.decode())
    group = (("group", "default"),)
    assert found[("django_schedules_leader", group)] == 1
    assert found[("django_schedules_standby_processes", group)] == 1
    assert found[("django_schedules_processes", group)] == 2
    assert found[("django_schedules_lease_epoch", group)] >= 1
