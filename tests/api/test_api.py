from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils.connection import ConnectionDoesNotExist

import django_schedules
from django_schedules import (
    add_job,
    get_job,
    get_jobs,
    modify_job,
    pause_job,
    print_jobs,
    remove_job,
    reschedule_job,
    resume_job,
    run_job_now,
)
from django_schedules.exceptions import ScheduleNotFound
from django_schedules.models import (
    Execution,
    ExecutionKind,
    ExecutionStatus,
    MisfirePolicy,
    Schedule,
    ScheduleSource,
)
from django_schedules.signals import schedule_changed
from django_schedules.triggers import CronTrigger, IntervalTrigger, trigger_from_dict
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

# A Wednesday, 08:00 in Berlin (UTC+1 in winter).
NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_readme_call_works_as_in_apscheduler() -> None:
    schedule = add_job(
        jobs.noop,
        "cron",
        hour=9,
        minute=30,
        day_of_week="mon-fri",
        timezone="Europe/Berlin",
        id="digest",
    )
    schedule.refresh_from_db()
    assert schedule.job_id == "digest"
    assert schedule.func == "tests.testapp.jobs.noop"
    assert schedule.trigger_kind == "cron"
    assert schedule.source == ScheduleSource.CODE
    # 09:30 Berlin on Wednesday 15 January is 08:30 UTC.
    assert schedule.next_run_at == datetime(2025, 1, 15, 8, 30, tzinfo=UTC)
    assert trigger_from_dict(schedule.trigger) == CronTrigger(
        hour=9, minute=30, day_of_week="mon-fri", timezone="Europe/Berlin"
    )


def test_the_api_is_exported_lazily_from_the_package() -> None:
    assert django_schedules.add_job is add_job
    assert "add_job" in dir(django_schedules)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        django_schedules.nope  # noqa: B018


def test_a_trigger_name_without_a_zone_gets_the_project_time_zone() -> None:
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        schedule = add_job(jobs.noop, "cron", hour=9, id="tokyo")
    assert trigger_from_dict(schedule.trigger).timezone == ZoneInfo("Asia/Tokyo")
    # 09:00 in Tokyo (UTC+9) on 16 January, the first one after 16:00 Tokyo on the 15th.
    assert schedule.next_run_at == datetime(2025, 1, 16, 0, 0, tzinfo=UTC)


def test_a_trigger_object_without_a_zone_gets_the_project_time_zone() -> None:
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        trigger = CronTrigger(hour=9)
        # A naive start date is read in the project's zone too, as APScheduler reads it in
        # the host's.
        start = IntervalTrigger(hours=1, start_date=datetime(2025, 1, 15, 18, 0))
        schedule = add_job(jobs.noop, trigger, id="tokyo-object")
    assert trigger.timezone == ZoneInfo("Asia/Tokyo")
    assert trigger_from_dict(schedule.trigger).timezone == ZoneInfo("Asia/Tokyo")
    assert schedule.next_run_at == datetime(2025, 1, 16, 0, 0, tzinfo=UTC)
    assert start.start_date == datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    # Leaving the override puts the default back: a trigger built now is in UTC again.
    assert CronTrigger(hour=9).timezone == ZoneInfo("UTC")


def test_a_trigger_objects_own_zone_is_kept() -> None:
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        schedule = add_job(jobs.noop, CronTrigger(hour=9, timezone="Europe/Berlin"), id="b")
    assert trigger_from_dict(schedule.trigger).timezone == ZoneInfo("Europe/Berlin")
    assert schedule.next_run_at == datetime(2025, 1, 15, 8, 0, tzinfo=UTC)


def test_a_trigger_object_is_stored_as_its_dict() -> None:
    trigger = CronTrigger.from_crontab("0 12 * * *", timezone="UTC")
    schedule = add_job(jobs.noop, trigger, id="noon")
    assert schedule.trigger == trigger.to_dict()
    assert schedule.next_run_at == datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def test_the_callable_may_be_given_by_name() -> None:
    schedule = add_job("testapp.renamed", "interval", minutes=5, kwargs={"day": "mon"}, id="n")
    assert schedule.func == "testapp.renamed" and schedule.kwargs == {"day": "mon"}


def test_an_interval_without_a_start_keeps_its_phase() -> None:
    schedule = add_job(jobs.noop, "interval", minutes=10, id="tick")
    trigger = trigger_from_dict(schedule.trigger)
    assert trigger.start_date is not None  # pinned, so a restart keeps the beat
    assert schedule.next_run_at == NOW + timedelta(minutes=10)  # as APScheduler: one interval on
    later = NOW + timedelta(hours=5, minutes=3)
    assert trigger.get_next_fire_time(None, later) == NOW + timedelta(hours=5, minutes=10)


def test_no_trigger_means_once_now() -> None:
    schedule = add_job(jobs.noop, id="once")
    assert schedule.trigger_kind == "date" and schedule.next_run_at == NOW


def test_a_date_trigger_takes_run_date() -> None:
    run = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    schedule = add_job(jobs.add, "date", run_date=run, args=[1, 2], id="d")
    assert schedule.next_run_at == run and schedule.args == [1, 2]


def test_an_id_is_generated_when_none_is_given() -> None:
    schedule = add_job(jobs.noop, "interval", seconds=30)
    assert len(schedule.job_id) == 32
    assert schedule.name == "noop"  # APScheduler's default: the callable's name


@pytest.mark.parametrize(
    ("coalesce", "policy"), [(True, MisfirePolicy.RUN_ONCE), (False, MisfirePolicy.RUN_ALL)]
)
def test_coalesce_maps_to_a_misfire_policy(coalesce: bool, policy: MisfirePolicy) -> None:
    schedule = add_job(jobs.noop, "interval", seconds=30, coalesce=coalesce, id="c")
    assert schedule.misfire_policy == policy


def test_our_own_arguments_are_accepted() -> None:
    schedule = add_job(
        jobs.noop,
        "interval",
        seconds=30,
        id="ours",
        misfire_policy="skip",
        misfire_grace_time=None,
        max_instances=3,
        timeout=2.5,
        max_retries=2,
        retry_delay=1,
        rerun_lost=True,
    )
    schedule.refresh_from_db()
    assert (schedule.misfire_policy, schedule.misfire_grace_time) == ("skip", None)
    assert (schedule.max_instances, schedule.timeout) == (3, 2.5)
    assert (schedule.max_retries, schedule.retry_delay, schedule.rerun_lost) == (2, 1.0, True)


def test_next_run_time_none_adds_it_paused() -> None:
    schedule = add_job(jobs.noop, "interval", seconds=30, id="p", next_run_time=None)
    assert not schedule.enabled


def test_a_naive_next_run_time_is_read_in_the_triggers_zone() -> None:
    schedule = add_job(
        jobs.noop,
        "cron",
        hour=9,
        timezone="Europe/Berlin",
        id="n",
        next_run_time=datetime(2025, 1, 20, 9, 0),
    )
    assert schedule.next_run_at == datetime(2025, 1, 20, 8, 0, tzinfo=UTC)


def test_replace_existing_keeps_the_row_and_its_history() -> None:
    first = add_job(jobs.noop, "interval", seconds=30, id="r")
    run_job_now("r")
    second = add_job(jobs.add, "interval", seconds=60, args=[1], id="r", replace_existing=True)
    assert second.pk == first.pk and second.version == first.version + 1
    assert second.func == "tests.testapp.jobs.add"
    assert Execution.objects.filter(schedule=second).count() == 1


def test_get_job_returns_none_for_an_unknown_id() -> None:
    assert get_job("missing") is None
    add_job(jobs.noop, "interval", seconds=30, id="here")
    found = get_job("here")
    assert found is not None and found.job_id == "here"


def test_get_jobs_lists_soonest_first_and_paused_last() -> None:
    add_job(jobs.noop, "interval", minutes=10, id="later")
    add_job(jobs.noop, "interval", minutes=1, id="sooner")
    add_job(jobs.noop, "interval", seconds=1, id="paused", next_run_time=None)
    assert [s.job_id for s in get_jobs()] == ["sooner", "later", "paused"]


def test_modify_job_changes_arguments_and_bumps_the_version() -> None:
    schedule = add_job(jobs.add, "interval", seconds=30, args=[1], id="m")
    changed = modify_job("m", args=[1, 2], name="sum", max_instances=2, coalesce=False)
    assert changed.version == schedule.version + 1
    changed.refresh_from_db()
    assert (changed.args, changed.name, changed.max_instances) == ([1, 2], "sum", 2)
    assert changed.misfire_policy == MisfirePolicy.RUN_ALL


def test_modify_job_with_a_new_trigger_recomputes_the_next_run() -> None:
    add_job(jobs.noop, "interval", hours=1, id="m")
    changed = modify_job("m", trigger=CronTrigger(minute=15, timezone="UTC"))
    assert changed.trigger_kind == "cron"
    assert changed.next_run_at == datetime(2025, 1, 15, 7, 15, tzinfo=UTC)


def test_modify_job_with_nothing_new_writes_nothing() -> None:
    schedule = add_job(jobs.noop, "interval", hours=1, id="m")
    assert modify_job("m", max_instances=1).version == schedule.version


def test_modify_job_next_run_time_none_pauses() -> None:
    add_job(jobs.noop, "interval", hours=1, id="m")
    assert not modify_job("m", next_run_time=None).enabled


def test_reschedule_job_builds_the_trigger_like_add_job() -> None:
    add_job(jobs.noop, "interval", hours=1, id="r")
    schedule = reschedule_job("r", trigger="cron", hour=12, minute=0)
    assert schedule.trigger_kind == "cron"
    assert schedule.next_run_at == datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def test_pause_then_resume_starts_from_the_next_occurrence_after_now() -> None:
    add_job(jobs.noop, "cron", minute=0, id="hourly")
    paused = pause_job("hourly")
    assert not paused.enabled
    with time_machine.travel(NOW + timedelta(hours=5, minutes=30), tick=False):
        resumed = resume_job("hourly")
    assert resumed.enabled
    # Not 08:00 (missed while paused: pausing is not a misfire) but 13:00.
    assert resumed.next_run_at == datetime(2025, 1, 15, 13, 0, tzinfo=UTC)


def test_pausing_a_paused_schedule_changes_nothing() -> None:
    add_job(jobs.noop, "cron", minute=0, id="p")
    version = pause_job("p").version
    assert pause_job("p").version == version
    resumed = resume_job("p")
    assert resume_job("p").version == resumed.version


def test_remove_job_keeps_the_history() -> None:
    add_job(jobs.noop, "interval", seconds=5, id="gone")
    execution = run_job_now("gone")
    remove_job("gone")
    assert not Schedule.objects.filter(job_id="gone").exists()
    execution.refresh_from_db()
    assert execution.schedule is None and execution.job_id == "gone"


@pytest.mark.parametrize(
    "call",
    [
        lambda: modify_job("missing", name="x"),
        lambda: reschedule_job("missing", trigger="interval", seconds=1),
        lambda: pause_job("missing"),
        lambda: resume_job("missing"),
        lambda: remove_job("missing"),
        lambda: run_job_now("missing"),
    ],
)
def test_each_call_on_an_unknown_id_raises_schedule_not_found(call, unchanged_db) -> None:
    with pytest.raises(ScheduleNotFound, match="no schedule has job id 'missing'"):
        call()
    unchanged_db()


def test_run_job_now_records_a_pending_manual_execution() -> None:
    add_job(jobs.add, "interval", hours=1, args=[1, 2], id="now", name="Adder")
    pause_job("now")  # a paused schedule can still be run by hand
    execution = run_job_now("now")
    execution.refresh_from_db()
    assert execution.kind == ExecutionKind.MANUAL
    assert execution.status == ExecutionStatus.PENDING
    assert execution.fire_time == NOW and execution.run_at == NOW
    assert (execution.job_id, execution.name, execution.func) == (
        "now",
        "Adder",
        "tests.testapp.jobs.add",
    )
    assert execution.executor == "default" and execution.epoch is None


def test_run_job_now_twice_in_one_instant_records_two_executions() -> None:
    add_job(jobs.noop, "interval", hours=1, id="twice")
    first, second = run_job_now("twice"), run_job_now("twice")
    assert first.pk != second.pk
    assert second.fire_time == first.fire_time + timedelta(microseconds=1)


def test_print_jobs_prints_each_schedule() -> None:
    out = io.StringIO()
    print_jobs(out=out)
    assert out.getvalue() == "Jobstore default:\n    No scheduled jobs\n"
    add_job(jobs.noop, "cron", hour=9, minute=0, id="nine", name="Nine", timezone="UTC")
    add_job(jobs.noop, "interval", hours=1, id="off", next_run_time=None)
    out = io.StringIO()
    print_jobs(out=out)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("    nine: Nine (trigger: ")
    assert lines[1].endswith("next run at: 2025-01-15T09:00:00+00:00)")
    assert lines[2].endswith(", paused)")


def test_schedule_changed_is_sent_on_commit(django_capture_on_commit_callbacks) -> None:
    received: list[tuple[str, str]] = []

    def receiver(sender, schedule, job_id, action, **kwargs):
        received.append((job_id, action))

    schedule_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            add_job(jobs.noop, "interval", hours=1, id="s")
            pause_job("s")
            resume_job("s")
            modify_job("s", name="renamed")
            reschedule_job("s", trigger="interval", hours=2)
            run_job_now("s")
            remove_job("s")
    finally:
        schedule_changed.disconnect(receiver)
    assert received == [
        ("s", "added"),
        ("s", "paused"),
        ("s", "resumed"),
        ("s", "modified"),
        ("s", "rescheduled"),
        ("s", "run_now"),
        ("s", "removed"),
    ]


def test_no_signal_is_sent_for_a_rolled_back_change(django_capture_on_commit_callbacks) -> None:
    received = []
    schedule_changed.connect(received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    add_job(jobs.noop, "interval", hours=1, id="rolled")
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
        assert callbacks == []
    finally:
        schedule_changed.disconnect(received.append)
    assert not Schedule.objects.filter(job_id="rolled").exists()


def test_every_query_uses_the_schedules_database_alias() -> None:
    with (
        override_settings(SCHEDULES_DATABASE="elsewhere"),
        pytest.raises(ConnectionDoesNotExist, match="elsewhere"),
    ):
        add_job(jobs.noop, "interval", hours=1, id="x")
    with (
        override_settings(SCHEDULES_DATABASE="elsewhere"),
        pytest.raises(ConnectionDoesNotExist, match="elsewhere"),
    ):
        get_jobs()


def test_an_interval_trigger_object_without_a_start_is_pinned() -> None:
    schedule = add_job(jobs.noop, IntervalTrigger(seconds=90), id="obj")
    assert trigger_from_dict(schedule.trigger).start_date is not None
    assert schedule.next_run_at == NOW + timedelta(seconds=90)


def test_replacing_with_the_same_definition_at_start_up_keeps_the_row() -> None:
    # The APScheduler idiom: add_job(..., replace_existing=True) in every process at start-up.
    first = add_job(jobs.noop, "interval", minutes=10, id="boot", replace_existing=True)
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        again = add_job(jobs.noop, "interval", minutes=10, id="boot", replace_existing=True)
    assert (again.version, again.next_run_at, again.trigger) == (
        first.version,
        first.next_run_at,
        first.trigger,
    )
    changed = add_job(jobs.noop, "interval", minutes=5, id="boot", replace_existing=True)
    assert changed.version == first.version + 1


def test_a_schedule_whose_callable_is_gone_can_still_be_renamed_and_repointed() -> None:
    add_job(jobs.noop, "interval", hours=1, id="orphan")
    Schedule.objects.filter(job_id="orphan").update(func="gone.job")
    assert modify_job("orphan", name="Orphan").name == "Orphan"
    assert modify_job("orphan", func=jobs.add, args=[1]).func == "tests.testapp.jobs.add"


def test_a_registered_task_can_be_scheduled() -> None:
    if not hasattr(jobs, "a_task"):
        pytest.skip("neither django.tasks nor the django_tasks backport is installed")
    schedule = add_job(jobs.a_task, "interval", hours=1, args=[3], id="task")
    assert schedule.func == "tests.testapp.jobs.a_task"
