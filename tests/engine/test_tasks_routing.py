"""A schedule's queue and priority travel with its runs: the claim carries them into the
tasks executor's hand-off, inside the claim (django-tasks-db) and through the outbox (RQ on
the machine's Redis), re-deliveries included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings

from django_schedules.clock import ManualClock
from django_schedules.executors import TasksExecutor
from django_schedules.models import Execution
from django_schedules.scheduler import Scheduler
from tests.settings import TASKS

from .conftest import interval_schedule
from .test_tasks_config import waiting_in_rq


@pytest.mark.django_db(transaction=True)
def test_django_tasks_db_gets_the_schedules_queue_and_priority_in_the_claim(
    clock: ManualClock,
) -> None:
    from django_tasks_db.models import DBTaskResult

    executor = TasksExecutor("default", {"backend": "db", "queue_name": "default"}, using="default")
    scheduler = Scheduler(clock=clock, executors={"default": executor}, lookahead=0.0)
    interval_schedule("routed", 3600, queue="schedules", priority=7)
    interval_schedule("own", 3600)
    scheduler.tick()
    executor.close()
    sent = {
        row.args_kwargs["args"][0]: (row.queue_name, row.priority)
        for row in DBTaskResult.objects.all()
    }
    routed, own = (Execution.objects.get(job_id=j).pk for j in ("routed", "own"))
    assert sent == {routed: ("schedules", 7), own: ("default", 0)}


URL = {"URL": "redis://127.0.0.1:6379/0", "SOCKET_TIMEOUT": 2}


@pytest.fixture
def queues() -> Iterator[tuple[str, str]]:
    """Two RQ queues of this test's own on the machine's Redis, emptied (only they) at the end."""
    import django_rq

    name = f"schedules_test_{uuid.uuid4().hex[:8]}"
    pair = (name, f"{name}_reports")
    yield pair
    with override_settings(RQ_QUEUES=dict.fromkeys(pair, URL)):
        for queue in pair:
            django_rq.get_queue(queue).empty()


@pytest.mark.django_db(transaction=True)
def test_rq_gets_each_run_and_its_redelivery_on_the_schedules_queue(
    clock: ManualClock, queues: tuple[str, str]
) -> None:
    rq_queue, reports = queues
    routed_settings = {
        "TASKS": {
            **TASKS,
            "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [rq_queue, reports]},
        },
        "RQ_QUEUES": dict.fromkeys(queues, URL),
    }
    with override_settings(**routed_settings):
        executor = TasksExecutor(
            "default",
            {"backend": "rq", "queue_name": rq_queue, "redeliver_after": 0,
             "max_redeliveries": 1},
            using="default",
        )  # fmt: skip
        scheduler = Scheduler(
            clock=clock, executors={"default": executor}, lookahead=0.0, lease_ttl=3
        )
        interval_schedule("own", 3600)
        interval_schedule("routed", 3600, queue=reports)
        scheduler.tick()
        assert executor.drain(30)
        clock.advance(1)  # a third of the TTL: the leader's sweeper re-delivers both
        scheduler.tick()
        assert executor.drain(30)
        executor.close()
    own, routed = (Execution.objects.get(job_id=j).pk for j in ("own", "routed"))
    assert [args[:2] for args in waiting_in_rq(rq_queue)] == [[own, 1], [own, 2]]
    assert [args[:2] for args in waiting_in_rq(reports)] == [[routed, 1], [routed, 2]]
