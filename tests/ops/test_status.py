from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from django_schedules import api, store
from django_schedules.models import SchedulerLease, SchedulerProcess
from django_schedules.status import check_health

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


def report(owner: str, role: str = "leader", fired: int = 0) -> None:
    host, pid, _tag = owner.split(":")
    store.report_process(
        store.ProcessReport(
            group="default",
            owner=owner,
            host=host,
            pid=int(pid),
            version="0.1.0",
            role=role,
            started_at=STARTED,
            last_tick_at=None,
            fired_last_minute=fired,
        )
    )


def hold_lease(owner: str, seconds: float = 15) -> None:
    now = store.database_now()
    SchedulerLease.objects.update_or_create(
        group="default",
        defaults={"owner": owner, "epoch": 1, "expires_at": now + timedelta(seconds=seconds)},
    )


def status(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("schedulerstatus", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_with_no_scheduler_it_exits_1_and_says_why() -> None:
    code, out = status()
    assert code == 1
    assert "no scheduler process of group 'default' has reported" in out


def test_with_a_live_leader_and_a_standby_it_exits_0() -> None:
    report("alpha:11:aa", fired=7)
    report("beta:22:bb", role="standby")
    hold_lease("alpha:11:aa")
    code, out = status()
    assert code == 0, out
    assert "Leader:   alpha pid 11" in out and "7 fired in the last minute" in out
    assert "Standby:  beta pid 22" in out
    code, raw = status("--json")
    data = json.loads(raw)
    assert code == 0 and data["ok"] is True
    assert data["leader"]["owner"] == "alpha:11:aa"
    assert [s["owner"] for s in data["standbys"]] == ["beta:22:bb"]


def test_an_expired_lease_means_no_leader() -> None:
    report("alpha:11:aa")
    hold_lease("alpha:11:aa", seconds=-1)
    code, out = status()
    assert code == 1 and "no leader of group 'default' is alive" in out


def test_a_leader_whose_heartbeat_is_older_than_the_ttl_is_not_alive() -> None:
    report("alpha:11:aa")
    hold_lease("alpha:11:aa")
    SchedulerProcess.objects.update(heartbeat_at=store.database_now() - timedelta(seconds=60))
    health = check_health("default", ttl=15)
    assert not health.leader_alive and not health.ok


def test_lag_over_the_limit_exits_2() -> None:
    report("alpha:11:aa")
    hold_lease("alpha:11:aa")
    schedule = api.add_job("tests.testapp.jobs.noop", "interval", id="late", minutes=5)
    schedule.next_run_at = store.database_now() - timedelta(minutes=10)
    schedule.save(update_fields=["next_run_at"])
    code, out = status("--max-lag", "60")
    assert code == 2, out
    assert "more than --max-lag 60" in out
    assert "1 schedule(s) overdue" in out
    code, _out = status("--max-lag", "3600")
    assert code == 0


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_it_rejects_a_bad_max_lag(value: str) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=f"got '{value}'"):
        call_command("schedulerstatus", "--max-lag", value)


def test_dead_processes_expire() -> None:
    report("alpha:11:aa")
    report("beta:22:bb", role="standby")
    SchedulerProcess.objects.filter(owner="beta:22:bb").update(
        heartbeat_at=store.database_now() - timedelta(minutes=5)
    )
    assert store.expire_processes(timedelta(minutes=1)) == 1
    assert list(SchedulerProcess.objects.values_list("owner", flat=True)) == ["alpha:11:aa"]


def test_reporting_twice_updates_one_row() -> None:
    report("alpha:11:aa", fired=1)
    report("alpha:11:aa", fired=5)
    assert SchedulerProcess.objects.get().fired_last_minute == 5


def test_the_admin_warns_when_no_scheduler_runs(client) -> None:
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("boss", "b@example.com", "pw"))
    html = client.get(reverse("admin:django_schedules_schedule_changelist")).content.decode()
    assert "schedules-health-bad" in html and 'role="alert"' in html
    assert "manage.py runscheduler" in html
    report("alpha:11:aa", fired=3)
    hold_lease("alpha:11:aa")
    html = client.get(reverse("admin:django_schedules_schedule_changelist")).content.decode()
    assert "schedules-health-ok" in html and "alpha (pid 11)" in html
    assert "3 runs started in the last minute" in html


def test_a_claimed_run_waiting_past_its_time_is_lag_too() -> None:
    """Past the ceiling the schedules are claimed on time and their runs wait for a worker:
    the lag is the oldest start time passed of a run not yet started (issue 16)."""
    from django_schedules.models import Execution

    report("alpha:11:aa")
    hold_lease("alpha:11:aa")
    schedule = api.add_job("tests.testapp.jobs.noop", "interval", id="busy", minutes=5)
    now = store.database_now()
    Execution.objects.create(
        schedule=schedule,
        job_id="busy",
        func=schedule.func,
        fire_time=now - timedelta(seconds=95),
        run_at=now - timedelta(seconds=90),
        epoch=1,
    )
    Execution.objects.create(  # not yet due: no lag
        schedule=schedule, job_id="busy", func=schedule.func, fire_time=now + timedelta(hours=1)
    )
    code, out = status("--max-lag", "60")
    assert code == 2, out
    lag = check_health("default", ttl=15).status.lag
    assert 90 <= lag < 150
