"""APScheduler 3's configure(gconfig, prefix, **options), add_executor and add_jobstore on the
scheduler objects: the constructor's mapping and refusal rules, nothing half-set."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_schedules.exceptions import SchedulerAlreadyRunningError, SchedulerConfigError
from django_schedules.models import Schedule
from django_schedules.schedulers import AsyncIOScheduler, BackgroundScheduler, BlockingScheduler
from django_schedules.schedulers.events import (
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
)
from tests.schedulers import jobs
from tests.schedulers.conftest import FAST

pytestmark = pytest.mark.django_db(transaction=True)

POOLS = {
    "default": {"BACKEND": "threadpool"},
    "pool": {"BACKEND": "processpool", "OPTIONS": {"max_workers": 1}},
}
INI = {  # what an ini file's [apscheduler] section gives: text, dotted keys
    "apscheduler.timezone": "Europe/Berlin",
    "apscheduler.job_defaults.coalesce": "false",
    "apscheduler.job_defaults.max_instances": "3",
    "apscheduler.job_defaults.misfire_grace_time": "30",
    "apscheduler.executors.processpool.type": "processpool",
    "apscheduler.executors.processpool.max_workers": "5",
    "other.timezone": "Asia/Tokyo",  # not under the prefix: ignored, as in APScheduler
}


@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_configure_reads_gconfig_under_its_prefix_and_options_win() -> None:
    scheduler = BackgroundScheduler()
    scheduler.configure(INI, group="reports")
    assert scheduler.timezone == "Europe/Berlin"
    assert scheduler.job_defaults == {
        "coalesce": False,
        "max_instances": 3,
        "misfire_grace_time": 30,
    }
    assert scheduler.executor_aliases == {"processpool": "pool"}
    assert scheduler.group == "reports" and scheduler._engine.group == "reports"
    schedule = scheduler.add_job(jobs.where, "cron", hour=4, executor="processpool")
    assert (schedule.executor, schedule.max_instances, schedule.misfire_grace_time) == (
        "pool",
        3,
        30,
    )
    assert schedule.misfire_policy == "run_all"  # coalesce "false"
    assert schedule.trigger["timezone"] == "Europe/Berlin" and schedule.group == "reports"
    scheduler.configure(INI, timezone="Asia/Tokyo")
    assert scheduler.timezone == "Asia/Tokyo"  # the keyword wins over gconfig


def test_configure_sets_every_option_anew_as_apscheduler_does() -> None:
    scheduler = BackgroundScheduler(timezone="Asia/Tokyo", job_defaults={"max_instances": 2})
    scheduler.configure({"sched.timezone": "Europe/Berlin"}, prefix="sched.")
    assert scheduler.timezone == "Europe/Berlin" and scheduler.job_defaults == {}
    scheduler.configure()
    assert scheduler.timezone == "UTC" and scheduler.group == "default"  # tests' TIME_ZONE


def test_the_constructor_takes_gconfig_as_its_first_argument() -> None:
    assert BlockingScheduler({"apscheduler.timezone": "Asia/Tokyo"}).timezone == "Asia/Tokyo"
    assert AsyncIOScheduler({"apscheduler.group": "aio"}).group == "aio"


@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_gconfig_names_apscheduler_classes_by_their_path() -> None:
    path = "apscheduler.executors.pool:ProcessPoolExecutor"
    scheduler = BackgroundScheduler({"apscheduler.executors.default.class": path})
    assert scheduler.executor_aliases == {"default": "pool"}
    store = "apscheduler.jobstores.sqlalchemy:SQLAlchemyJobStore"
    with pytest.raises(SchedulerConfigError, match=rf"jobstores\['default'\] is '{store}'"):
        BackgroundScheduler({"apscheduler.jobstores.default.class": store})


@pytest.mark.parametrize(
    ("gconfig", "options", "field", "message"),
    [
        ({"apscheduler.jobstores.default.type": "sqlalchemy"}, {}, "jobstores", "'sqlalchemy'"),
        ({}, {"jobstores": {"default": "mongodb"}}, "jobstores", "'mongodb'"),
        ({"apscheduler.job_defaults.coalesce": "maybe"}, {}, "coalesce", "'maybe'"),
        ({"apscheduler.job_defaults.max_instances": "-1"}, {}, "max_instances", "'-1'"),
        ({"apscheduler.jobstore_retry_interval": "10"}, {}, "jobstore_retry_interval", "takes"),
        ({"apscheduler.timezone": "Mars/Base"}, {}, "timezone", "'Mars/Base'"),
        ({}, {"group": "two words"}, "group", "'two words'"),
        ({"apscheduler.a": 1, "apscheduler.a.b": 2}, {}, "gconfig", "nests under 'a'"),
    ],
)
def test_configure_refuses_what_cannot_map_and_changes_nothing(
    gconfig: dict, options: dict, field: str, message: str
) -> None:
    scheduler = BackgroundScheduler(timezone="Asia/Tokyo", group="kept")
    engine = scheduler._engine
    with pytest.raises(SchedulerConfigError) as caught:
        scheduler.configure({"apscheduler.timezone": "Europe/Berlin", **gconfig}, **options)
    assert caught.value.field == field and message in str(caught.value)
    assert (scheduler.timezone, scheduler.group, scheduler._engine) == (
        "Asia/Tokyo",
        "kept",
        engine,
    )


def test_configure_refuses_a_gconfig_that_is_not_a_dict_and_a_constructor_only_option() -> None:
    with pytest.raises(SchedulerConfigError, match=r"gconfig must be a dict, got \['x'\]"):
        BackgroundScheduler().configure(["x"])
    with pytest.raises(SchedulerConfigError, match=r"give it to AsyncIOScheduler\(\) when"):
        AsyncIOScheduler().configure(event_loop=None)


def test_configure_is_refused_while_running() -> None:
    scheduler = BackgroundScheduler(**FAST)
    scheduler.start()
    try:
        with pytest.raises(SchedulerAlreadyRunningError, match=r"configure\(\) only while stopped"):
            scheduler.configure(timezone="Asia/Tokyo")
    finally:
        scheduler.shutdown()
    scheduler.configure(timezone="Asia/Tokyo")  # stopped again: allowed
    assert scheduler.timezone == "Asia/Tokyo"


@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_add_executor_maps_a_kind_a_name_or_an_object_and_sends_its_event() -> None:
    scheduler = BackgroundScheduler()
    seen = []
    scheduler.add_listener(seen.append, EVENT_EXECUTOR_ADDED)
    scheduler.add_executor("processpool")  # APScheduler's plugin alias, under "default"
    scheduler.add_executor("pool", "named")  # a SCHEDULES_EXECUTORS name
    scheduler.add_executor({"type": "threadpool"}, "threads")
    assert scheduler.executor_aliases == {"default": "pool", "named": "pool", "threads": "default"}
    assert scheduler.add_job(jobs.where, "interval", seconds=5).executor == "pool"
    assert [(e.code, e.alias) for e in seen] == [
        (EVENT_EXECUTOR_ADDED, "default"),
        (EVENT_EXECUTOR_ADDED, "named"),
        (EVENT_EXECUTOR_ADDED, "threads"),
    ]


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "message"),
    [
        (("threadpool", "t"), {"max_workers": 5}, "max_workers", "set in SCHEDULES_EXECUTORS"),
        (("celery", "c"), {}, "executors", "'celery', which is not in SCHEDULES_EXECUTORS"),
        (("debug", "d"), {}, "executors", "has no 'inline' one"),
        ((object(), "o"), {}, "executors", "add_executor(..., alias='o') must be"),
        (("pool", "taken"), {}, "alias", "already has an executor by the alias of 'taken'"),
    ],
)
@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_add_executor_refuses_what_cannot_map(args, kwargs, field, message) -> None:
    scheduler = BackgroundScheduler(executors={"taken": "default"})
    with pytest.raises(SchedulerConfigError) as caught:
        scheduler.add_executor(*args, **kwargs)
    assert caught.value.field == field and message in str(caught.value)
    assert scheduler.executor_aliases == {"taken": "default"}


def test_add_jobstore_takes_the_database_only() -> None:
    scheduler = BackgroundScheduler()
    seen = []
    scheduler.add_listener(seen.append, EVENT_JOBSTORE_ADDED)
    scheduler.add_jobstore("database", "db")
    scheduler.add_jobstore({"type": "database"})  # "default" is the database already
    scheduler.add_job(jobs.where, "interval", seconds=5, id="x", jobstore="db")
    assert Schedule.objects.filter(job_id="x").exists()
    assert [(e.code, e.alias) for e in seen] == [
        (EVENT_JOBSTORE_ADDED, "db"),
        (EVENT_JOBSTORE_ADDED, "default"),
    ]
    for store, message in [
        ("sqlalchemy", "add_jobstore(..., alias='s') is 'sqlalchemy'"),
        ("memory", "is 'memory'"),
        (object(), "is a object"),
    ]:
        with pytest.raises(SchedulerConfigError, match="Leave add_jobstore") as caught:
            scheduler.add_jobstore(store, "s")
        assert message in str(caught.value) and caught.value.field == "jobstores"
    with pytest.raises(
        SchedulerConfigError, match=r"does not take url: the database job store .* with no options"
    ) as caught:
        scheduler.add_jobstore("database", "u", url="sqlite:///jobs.sqlite")
    assert caught.value.field == "url"
    with pytest.raises(SchedulerConfigError, match="already has a job store by the alias of 'db'"):
        scheduler.add_jobstore("database", "db")
    assert scheduler.jobstores == {"default", "db"}


@override_settings(SCHEDULES_EXECUTORS=POOLS)
def test_remove_executor_forgets_the_alias_and_the_schedules_on_it_keep_running() -> None:
    scheduler = BackgroundScheduler(executors={"processpool": {"type": "processpool"}})
    seen = []
    scheduler.add_listener(seen.append, EVENT_EXECUTOR_REMOVED)
    scheduler.add_job(jobs.where, "interval", seconds=5, id="p", executor="processpool")
    scheduler.remove_executor("processpool")
    assert scheduler.executor_aliases == {}
    assert [(e.code, e.alias) for e in seen] == [(EVENT_EXECUTOR_REMOVED, "processpool")]
    # The settings' executor is not the object's to shut down: its schedule stays on it.
    assert Schedule.objects.get(job_id="p").executor == "pool"
    with pytest.raises(KeyError, match="no executor by the alias of 'processpool'"):
        scheduler.remove_executor("processpool")
    assert len(seen) == 1


def test_remove_jobstore_forgets_an_added_alias_never_the_database() -> None:
    scheduler = BackgroundScheduler()
    seen = []
    scheduler.add_listener(seen.append, EVENT_JOBSTORE_REMOVED)
    scheduler.add_jobstore("database", "db")
    scheduler.remove_jobstore("db")
    assert scheduler.jobstores == {"default"}
    assert [(e.code, e.alias) for e in seen] == [(EVENT_JOBSTORE_REMOVED, "db")]
    with pytest.raises(KeyError, match="no job store by the alias of 'db'"):
        scheduler.remove_jobstore("db")
    with pytest.raises(SchedulerConfigError, match="is the database, where every job") as caught:
        scheduler.remove_jobstore("default")
    assert (caught.value.field, scheduler.jobstores, len(seen)) == ("alias", {"default"}, 1)
