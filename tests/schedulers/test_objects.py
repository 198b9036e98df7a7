"""The scheduler objects' methods: APScheduler 3's arguments, handed to django_schedules.api."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

import django_schedules
from django_schedules import api
from django_schedules.exceptions import (
    InvalidSchedule,
    JobNotRegistered,
    SchedulerConfigError,
    SchedulerNotRunningError,
)
from django_schedules.models import Schedule
from django_schedules.registry import register, unregister
from django_schedules.schedulers import BackgroundScheduler, BlockingScheduler
from django_schedules.schedulers.events import (
    EVENT_ALL_JOBS_REMOVED,
    EVENT_JOB_ADDED,
    EVENT_JOB_MODIFIED,
    EVENT_JOB_REMOVED,
)
from django_schedules.triggers import IntervalTrigger
from tests.schedulers import jobs

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = ZoneInfo("Europe/Berlin")
NAMES = [
    "BlockingScheduler",
    "BackgroundScheduler",
    "AsyncIOScheduler",
    "GeventScheduler",
    "TornadoScheduler",
    "TwistedScheduler",
    "QtScheduler",
]


def test_the_seven_schedulers_are_exported_from_the_package() -> None:
    exported = {
        name: getattr(django_schedules, name) for name in NAMES if name in dir(django_schedules)
    }
    assert sorted(exported) == sorted(NAMES)
    assert all(
        hasattr(cls, "add_job") and hasattr(cls, "scheduled_job") for cls in exported.values()
    )


@pytest.mark.parametrize(
    ("run_date", "utc"),
    [
        (date(2031, 4, 15), datetime(2031, 4, 14, 22, 0, tzinfo=UTC)),
        ("2031-11-06 16:30:05", datetime(2031, 11, 6, 15, 30, 5, tzinfo=UTC)),
        (datetime(2031, 11, 6, 16, 30, 5), datetime(2031, 11, 6, 15, 30, 5, tzinfo=UTC)),
        (
            datetime(2031, 11, 6, 16, 30, 5, tzinfo=UTC),
            datetime(2031, 11, 6, 16, 30, 5, tzinfo=UTC),
        ),
    ],
)
def test_a_run_date_as_a_date_a_string_or_a_datetime_is_read_in_the_scheduler_zone(
    run_date: object, utc: datetime
) -> None:
    scheduler = BlockingScheduler(timezone="Europe/Berlin")
    schedule = scheduler.add_job(jobs.where, "date", run_date=run_date, args=["text"])
    assert schedule.next_run_at == utc
    assert schedule.trigger["timezone"] == "Europe/Berlin"


def test_without_a_timezone_a_naive_run_date_is_read_in_time_zone() -> None:
    with override_settings(TIME_ZONE="America/New_York"):
        schedule = BackgroundScheduler().add_job(jobs.where, "date", run_date="2031-01-02 09:00")
    assert schedule.next_run_at == datetime(2031, 1, 2, 14, 0, tzinfo=UTC)


def test_a_zone_object_is_taken_and_a_bad_zone_is_refused_by_name() -> None:
    assert BackgroundScheduler(timezone=BERLIN).timezone == "Europe/Berlin"
    assert BackgroundScheduler(timezone=UTC).timezone == "UTC"
    with pytest.raises(SchedulerConfigError, match="timezone must be an IANA zone name") as info:
        BackgroundScheduler(timezone="Mars/Olympus")
    assert info.value.field == "timezone"


def test_an_unregistered_function_is_refused_saying_what_to_add() -> None:
    scheduler = BlockingScheduler()
    with pytest.raises(JobNotRegistered) as info:
        scheduler.add_job(jobs.not_registered, "date", run_date="2031-01-02 09:00")
    message = str(info.value)
    assert "from django_schedules import job" in message
    assert "`@job` on the line above `def not_registered`" in message
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("store", "named"),
    [
        ({"type": "sqlalchemy", "url": "sqlite://"}, "'sqlalchemy'"),
        ("memory", "'memory'"),
        (object(), "a object"),
    ],
)
def test_a_job_store_other_than_the_database_is_refused_by_name(store: object, named: str) -> None:
    with pytest.raises(SchedulerConfigError, match=f"jobstores\\['default'\\] is {named}") as info:
        BackgroundScheduler(jobstores={"default": store})
    assert "Remove jobstores=" in str(info.value) and info.value.field == "jobstores"


def test_apschedulers_own_sqlalchemy_job_store_is_refused_by_its_class_name() -> None:
    memory = pytest.importorskip("apscheduler.jobstores.memory")
    with pytest.raises(SchedulerConfigError, match="is a MemoryJobStore"):
        BackgroundScheduler(jobstores={"default": memory.MemoryJobStore()})


def test_add_job_refuses_a_job_store_alias_it_does_not_have() -> None:
    scheduler = BackgroundScheduler(jobstores={"main": "database"})
    scheduler.add_job(jobs.where, "interval", seconds=5, id="kept", jobstore="main")
    with pytest.raises(SchedulerConfigError, match="jobstore='redis' is not a job store") as info:
        scheduler.add_job(jobs.where, "interval", seconds=5, jobstore="redis")
    assert info.value.field == "jobstore"
    assert list(Schedule.objects.values_list("job_id", flat=True)) == ["kept"]


def test_job_defaults_fill_what_add_job_leaves_out() -> None:
    scheduler = BackgroundScheduler(
        job_defaults={"misfire_grace_time": 5, "coalesce": False, "max_instances": 3}
    )
    defaulted = scheduler.add_job(jobs.where, "interval", seconds=5, id="a")
    given = scheduler.add_job(jobs.where, "interval", seconds=5, id="b", max_instances=1)
    assert (defaulted.misfire_grace_time, defaulted.misfire_policy, defaulted.max_instances) == (
        5,
        "run_all",
        3,
    )
    assert given.max_instances == 1 and given.misfire_grace_time == 5


@pytest.mark.parametrize(
    ("defaults", "field"),
    [({"max_instances": 0}, "max_instances"), ({"retries": 3}, "job_defaults")],
)
def test_a_bad_job_default_is_refused_at_construction(defaults: dict, field: str) -> None:
    with pytest.raises((SchedulerConfigError, InvalidSchedule)) as info:
        BackgroundScheduler(job_defaults=defaults)
    assert info.value.field == field


POOLS = {
    "default": {"BACKEND": "threadpool"},
    "pool": {"BACKEND": "processpool", "OPTIONS": {"max_workers": 1}},
}


@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_executor_aliases_map_onto_schedules_executors_names() -> None:
    scheduler = BackgroundScheduler(
        executors={"processpool": {"type": "processpool", "max_workers": 5}, "fast": "default"}
    )
    assert scheduler.executor_aliases == {"processpool": "pool", "fast": "default"}
    assert (
        scheduler.add_job(jobs.where, "interval", seconds=5, executor="processpool").executor
        == "pool"
    )
    assert (
        scheduler.add_job(jobs.where, "interval", seconds=5, executor="fast").executor == "default"
    )


@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_apschedulers_executor_objects_map_by_kind() -> None:
    pool = pytest.importorskip("apscheduler.executors.pool")
    scheduler = BackgroundScheduler(executors={"default": pool.ThreadPoolExecutor(20)})
    assert scheduler.executor_aliases == {"default": "default"}


@override_settings(SCHEDULES_EXECUTORS={"default": {"BACKEND": "threadpool"}})
@pytest.mark.parametrize(
    ("executors", "message"),
    [
        ({"x": {"type": "processpool"}}, "has no 'processpool' one: add one"),
        ({"x": "nowhere"}, "names 'nowhere', which is not in SCHEDULES_EXECUTORS"),
        ({"x": 42}, "must be a SCHEDULES_EXECUTORS name"),
    ],
)
def test_an_executor_that_cannot_be_mapped_is_refused(executors: dict, message: str) -> None:
    with pytest.raises(SchedulerConfigError, match=message) as info:
        BackgroundScheduler(executors=executors)
    assert info.value.field == "executors"


def test_an_unknown_constructor_option_is_refused_naming_it() -> None:
    with pytest.raises(SchedulerConfigError, match="does not take colour"):
        BackgroundScheduler(colour="red")


@pytest.fixture
def script_job():
    def in_script() -> None:
        pass

    in_script.__module__ = "__main__"
    entry = register(in_script)
    yield in_script
    unregister(entry.name)


@override_settings(
    SCHEDULES_EXECUTORS={
        **POOLS,
        "default": {"BACKEND": "processpool"},
        "threads": {"BACKEND": "threadpool"},
    }
)
def test_a_scripts_job_goes_to_the_thread_pool_and_is_refused_elsewhere(script_job) -> None:
    scheduler = BlockingScheduler()
    assert scheduler.add_job(script_job, "interval", seconds=5).executor == "threads"
    with pytest.raises(InvalidSchedule, match=r'@job\(name="..."\) in an importable module'):
        scheduler.add_job(script_job, "interval", seconds=5, executor="pool")


@override_settings(SCHEDULES_EXECUTORS={**POOLS, "threads": {"BACKEND": "threadpool"}})
def test_modify_job_refuses_to_move_a_scripts_job_off_this_process(script_job) -> None:
    scheduler = BlockingScheduler(executors={"processpool": {"type": "processpool"}})
    scheduler.add_job(script_job, "interval", seconds=5, id="s", executor="threads")
    for executor, named in (("pool", "'pool'"), ("processpool", "'processpool'")):
        with pytest.raises(InvalidSchedule, match=r'@job\(name="..."\) in an importable') as caught:
            scheduler.modify_job("s", executor=executor)
        assert caught.value.field == "executor" and named in str(caught.value)
    assert Schedule.objects.get(job_id="s").executor == "threads"  # nothing written
    assert scheduler.modify_job("s", executor="default").executor == "default"  # a thread pool
    assert scheduler.modify_job("s", executor="threads").executor == "threads"


@override_settings(
    SCHEDULES_EXECUTORS={
        **POOLS,
        "default": {"BACKEND": "processpool"},
        "threads": {"BACKEND": "threadpool"},
    }
)
def test_modify_job_checks_a_new_func_against_the_executor_it_keeps(script_job) -> None:
    scheduler = BlockingScheduler()
    scheduler.add_job(jobs.where, "interval", seconds=5, id="on-pool", executor="pool")
    with pytest.raises(InvalidSchedule, match=r"executor 'pool' runs jobs elsewhere.*@job\(name="):
        scheduler.modify_job("on-pool", func=script_job)
    assert Schedule.objects.get(job_id="on-pool").func == "objects.where"
    # On "default" (a process pool here) it goes to the thread pool, as add_job sends it.
    scheduler.add_job(jobs.where, "interval", seconds=5, id="on-default")
    moved = scheduler.modify_job("on-default", func=script_job)
    assert (moved.func.startswith("__main__."), moved.executor) == (True, "threads")
    # A job that is not a script's moves freely.
    assert scheduler.modify_job("on-pool", executor="default").executor == "default"


@override_settings(SCHEDULES_EXECUTORS={**POOLS, "threads": {"BACKEND": "threadpool"}})
def test_the_module_functions_keep_a_scripts_job_in_this_process(script_job) -> None:
    """The rule holds below the objects too: django_schedules.add_job and modify_job refuse
    a script's job on an executor that runs jobs elsewhere, naming the executor, writing
    nothing (it used to be stored, then failed at its first run)."""
    with pytest.raises(InvalidSchedule, match=r'@job\(name="..."\) in an importable') as caught:
        api.add_job(script_job, "interval", seconds=5, id="s", executor="pool")
    assert (caught.value.field, "executor 'pool' runs" in str(caught.value)) == ("executor", True)
    assert not Schedule.objects.filter(job_id="s").exists()
    assert api.add_job(script_job, "interval", seconds=5, id="s", executor="threads").pk
    with pytest.raises(InvalidSchedule, match="executor 'pool' runs jobs elsewhere"):
        api.modify_job("s", executor="pool")
    api.add_job(jobs.where, "interval", seconds=5, id="on-pool", executor="pool")
    with pytest.raises(InvalidSchedule, match="executor 'pool' runs jobs elsewhere"):
        api.modify_job("on-pool", func=script_job)
    rows = Schedule.objects.order_by("job_id").values_list("job_id", "func", "executor")
    assert [(j, f.split(".")[0], e) for j, f, e in rows] == [
        ("on-pool", "objects", "pool"),
        ("s", "__main__", "threads"),
    ]


def test_another_process_refuses_a_scripts_job_naming_the_fix() -> None:
    with pytest.raises(JobNotRegistered, match=r"registered in a script \(__main__\).*@job\(name="):
        api.add_job("__main__.gone", "interval", seconds=5)


def test_the_job_methods_act_on_the_database() -> None:
    scheduler = BackgroundScheduler(timezone="Europe/Berlin")
    scheduler.add_job(jobs.where, "cron", hour=4, id="digest", args=["a"])
    assert scheduler.get_job("digest").trigger["timezone"] == "Europe/Berlin"
    assert scheduler.get_job("nope") is None
    assert scheduler.modify_job("digest", args=["b"]).args == ["b"]
    rescheduled = scheduler.reschedule_job("digest", trigger="cron", hour=5)
    assert rescheduled.trigger["hour"] == "5" and rescheduled.trigger["timezone"] == "Europe/Berlin"
    assert scheduler.pause_job("digest").enabled is False
    assert scheduler.resume_job("digest").enabled is True
    out = io.StringIO()
    scheduler.print_jobs(out=out)
    assert "digest" in out.getvalue()
    assert [s.job_id for s in scheduler.get_jobs()] == ["digest"]
    scheduler.remove_job("digest")
    assert scheduler.get_jobs() == []


def test_scheduled_job_registers_and_schedules_the_function() -> None:
    scheduler = BackgroundScheduler()

    @scheduler.scheduled_job("interval", minutes=5, id="decorated")
    def decorated() -> None:
        pass

    try:
        assert Schedule.objects.get(job_id="decorated").func.endswith("decorated")
        assert decorated() is None  # the function comes back unchanged
    finally:
        unregister(Schedule.objects.get(job_id="decorated").func)


def test_remove_all_jobs_removes_only_its_groups_code_made_schedules_and_says_which(
    caplog,
) -> None:
    reports = BackgroundScheduler(group="reports")
    default = BlockingScheduler()
    reports.add_job(jobs.where, "interval", seconds=5, id="reports-1")
    reports.add_job(jobs.where, "interval", seconds=5, id="reports-2")
    default.add_job(jobs.where, "interval", seconds=5, id="default-1")
    api.add_job(jobs.where, "interval", seconds=5, id="module")
    api.add_job(jobs.where, "interval", seconds=5, id="admin", source="admin")
    api.add_job(jobs.where, "interval", seconds=5, id="settings", source="settings")
    seen = []
    reports.add_listener(seen.append, EVENT_ALL_JOBS_REMOVED)
    with caplog.at_level("INFO", logger="django_schedules.schedulers"):
        assert reports.remove_all_jobs() == ["reports-1", "reports-2"]
    assert caplog.messages[-1] == (
        "remove_all_jobs (group 'reports') removed 2 schedule(s): reports-1, reports-2; "
        "kept 1 from admin; kept 1 from settings; kept 1 made by the module functions "
        "(no group); kept 1 of group 'default'"
    )
    assert sorted(Schedule.objects.values_list("job_id", flat=True)) == [
        "admin",
        "default-1",
        "module",
        "settings",
    ]
    assert reports.remove_all_jobs() == []  # nothing of its own is left
    assert default.remove_all_jobs(include_admin=True) == ["admin", "default-1"]
    assert sorted(Schedule.objects.values_list("job_id", flat=True)) == ["module", "settings"]
    assert [event.code for event in seen] == [EVENT_ALL_JOBS_REMOVED] * 2


def test_the_group_that_added_a_schedule_is_recorded() -> None:
    assert BackgroundScheduler(group="reports").add_job(jobs.where, id="a").group == "reports"
    assert BlockingScheduler().add_job(jobs.where, id="b").group == "default"
    assert api.add_job(jobs.where, id="c").group == ""  # the module functions: no group's
    assert api.add_job(jobs.where, id="d", group="nightly").group == "nightly"
    assert Schedule.objects.get(job_id="a").group == "reports"

    @BackgroundScheduler(group="deco").scheduled_job("interval", minutes=5, id="e")
    def decorated() -> None:
        pass

    try:
        assert Schedule.objects.get(job_id="e").group == "deco"
    finally:
        unregister(Schedule.objects.get(job_id="e").func)


def test_an_identical_add_job_from_another_group_takes_the_schedule_over() -> None:
    first = BackgroundScheduler(group="one").add_job(jobs.where, "cron", hour=4, id="x")
    again = BackgroundScheduler(group="two").add_job(
        jobs.where, "cron", hour=4, id="x", replace_existing=True
    )
    assert (first.group, again.group) == ("one", "two")
    assert Schedule.objects.get(job_id="x").group == "two"
    assert BackgroundScheduler(group="one").remove_all_jobs() == []


@pytest.mark.parametrize("group", ["", "a b", "x" * 101, "ok\n", 7])
def test_a_bad_group_is_refused_by_name(group: object) -> None:
    with pytest.raises(SchedulerConfigError, match=r"group must be 1 to 100 characters") as caught:
        BackgroundScheduler(group=group)
    assert caught.value.field == "group"
    if group != "":
        with pytest.raises(InvalidSchedule, match=r"group must be empty or 1 to 100"):
            api.add_job(jobs.where, group=group)
    assert not Schedule.objects.exists()


def test_add_job_on_an_object_refuses_a_group_of_its_own() -> None:
    with pytest.raises(SchedulerConfigError, match=r"this scheduler's group \('default'\)"):
        BackgroundScheduler().add_job(jobs.where, group="other")
    assert not Schedule.objects.exists()


def test_remove_all_jobs_refuses_an_include_admin_that_is_not_a_bool() -> None:
    with pytest.raises(SchedulerConfigError, match="include_admin must be True or False"):
        BackgroundScheduler().remove_all_jobs(include_admin="yes")


def test_listeners_get_the_events_in_their_mask() -> None:
    scheduler = BackgroundScheduler()
    added_or_removed, modified = [], []
    scheduler.add_listener(added_or_removed.append, EVENT_JOB_ADDED | EVENT_JOB_REMOVED)
    scheduler.add_listener(modified.append, EVENT_JOB_MODIFIED)
    scheduler.add_job(jobs.where, "interval", seconds=5, id="x")
    scheduler.pause_job("x")
    scheduler.remove_job("x")
    assert [(e.code, e.job_id) for e in added_or_removed] == [
        (EVENT_JOB_ADDED, "x"),
        (EVENT_JOB_REMOVED, "x"),
    ]
    assert [(e.code, e.job_id) for e in modified] == [(EVENT_JOB_MODIFIED, "x")]
    scheduler.remove_listener(modified.append)
    scheduler.remove_listener(added_or_removed.append)
    scheduler.add_job(jobs.where, "interval", seconds=5, id="y")
    assert len(added_or_removed) == 2  # disconnected
    with pytest.raises(ValueError, match="was not added"):
        scheduler.remove_listener(modified.append)
    with pytest.raises(ValueError, match="mask must be"):
        scheduler.add_listener(print, 0)


def test_a_scheduler_not_started_cannot_be_shut_down_paused_or_resumed() -> None:
    scheduler = BackgroundScheduler()
    assert scheduler.state == 0 and not scheduler.running
    for method in (scheduler.shutdown, scheduler.pause, scheduler.resume):
        with pytest.raises(SchedulerNotRunningError):
            method()


def test_a_trigger_object_is_kept_as_given() -> None:
    trigger = IntervalTrigger(seconds=5, timezone="Asia/Tokyo")
    schedule = BackgroundScheduler(timezone="Europe/Berlin").add_job(jobs.where, trigger)
    assert schedule.trigger["timezone"] == "Asia/Tokyo"
    assert schedule.next_run_at <= datetime.now(UTC) + timedelta(seconds=6)
