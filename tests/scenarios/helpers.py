"""Helpers of the scenario tests: real `runscheduler` processes, and waiting on the database.

Each scenario reproduces a problem users of django-celery-beat, django-apscheduler or django-q2
report; docs/comparison.md lists them side by side.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from django_schedules.clock import ManualClock
from django_schedules.executors import InlineExecutor
from django_schedules.models import Execution, SchedulerLease
from django_schedules.scheduler import Scheduler
from tests.engine.test_processes import clean, wait_for
from tests.processes import ManageCommand
from tests.testapp import jobs as testapp_jobs

__all__ = [
    "POLL",
    "TTL",
    "admin_client",
    "admin_url",
    "clean",
    "drive",
    "fires",
    "leader_pid",
    "manual_scheduler",
    "schedule_form",
    "scheduler_process",
    "utcnow",
    "wait_for",
    "wait_until_leading",
]

assert testapp_jobs.scenario_sleep  # registers the scenario jobs in this process too

POLL = 0.2  # --poll-interval of every scheduler process
TTL = 3.0  # --lease-ttl


def utcnow() -> datetime:
    return datetime.now(UTC)


def scheduler_process(*args: str, **env: str) -> ManageCommand:
    """A `runscheduler` process on the test database (start it with `with`)."""
    env.setdefault("DJANGO_SETTINGS_MODULE", "tests.scenarios.settings")
    command = ManageCommand(
        "runscheduler", "--poll-interval", str(POLL), "--lease-ttl", str(TTL), *args
    )
    command.env.update(env)  # not as **env: ManageCommand's `grace` shares its keywords
    return command


def leader_pid() -> int | None:
    row = SchedulerLease.objects.filter(group="default").first()
    if row is None or not row.owner:
        return None
    return int(row.owner.split(":")[1])


def wait_until_leading(proc: ManageCommand, timeout: float = 60) -> float:
    """Wait until `proc` holds the lease; return the seconds it took."""
    assert proc.process is not None
    pid = proc.process.pid

    def leading() -> bool:
        if proc.process is not None and proc.process.poll() is not None:
            raise AssertionError(f"the scheduler exited early:\n{proc.output()}")
        return leader_pid() == pid

    return wait_for(leading, timeout, f"scheduler {pid} to take the lease")


def fires(job_id: str, **filters: Any) -> list[Execution]:
    return list(Execution.objects.filter(job_id=job_id, **filters).order_by("fire_time", "id"))


def manual_scheduler(clock: ManualClock, **kwargs: Any) -> Scheduler:
    """An in-process scheduler on a manual clock that runs each job inline."""
    kwargs.setdefault("lookahead", 0.0)
    kwargs.setdefault("poll_interval", 86_400.0)
    return Scheduler(
        clock=clock, executors={"default": InlineExecutor("default", {}, using="default")}, **kwargs
    )


def drive(scheduler: Scheduler, clock: ManualClock, until: datetime) -> None:
    """Tick `scheduler`, moving `clock` to each next wake-up, until `until`."""
    while clock.now() < until:
        wait = scheduler.tick()
        if wait > 0:
            clock.advance(min(wait, (until - clock.now()).total_seconds()))
    scheduler.tick()


def admin_client(db: None = None) -> Client:
    user = User.objects.create_superuser("scenario-admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def schedule_form(job_id: str, func: str, kwargs: dict[str, Any], **timing: Any) -> dict[str, Any]:
    """POST data for the admin's schedule form; `timing` holds the trigger fields (UTC)."""
    import json

    data: dict[str, Any] = {
        "job_id": job_id,
        "name": job_id,
        "func": func,
        "args": "[]",
        "kwargs": json.dumps(kwargs),
        "enabled": "on",
        "timezone": "UTC",
        "cron_mode": "fields",
        "cron_second": "0",
        "executor": "default",
        "misfire_policy": "run_once",
        "misfire_grace_time": "60",
        "max_instances": "1",
        "max_retries": "0",
        "retry_delay": "0",
    }
    for name, value in timing.items():
        data[name] = value.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(value, datetime) else value
    return data


def admin_url(name: str, *args: Any) -> str:
    from django.urls import reverse

    return reverse(f"admin:django_schedules_{name}", args=args)
