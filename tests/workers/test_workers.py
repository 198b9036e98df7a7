"""End to end through real engines: a `runscheduler` process hands executions to real
`rqworker` (django-tasks-rq) and `celery worker` (django-tasks-celery on Django 6,
django-tasks-fennel on 5.2) processes over the machine's Redis, with the configuration the
docs show: a TASKS alias other than `default` whose QUEUES do not hold `default`.

Each test uses a queue of its own (SCHEDULES_WORKER_QUEUE), so runs sharing the server never
take each other's messages; nothing is flushed.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from django_schedules import api
from django_schedules.models import Execution, ExecutionStatus
from django_schedules.tasks import engine_id
from tests.polling import wait_until
from tests.processes import ManageCommand

from .engines import SETTINGS, worker_args

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS_URL = "redis://127.0.0.1:6379/0"


def worker(
    engine: str,
    queue: str,
    name: str | None = None,
    rq_worker_class: str | None = None,
    **env: str,
) -> ManageCommand:
    """The engine's worker with the flags the docs give (tests/workers/engines.py)."""
    command = ManageCommand(
        DJANGO_SETTINGS_MODULE=SETTINGS, SCHEDULES_WORKER_QUEUE=queue, new_session=True, **env
    )
    args = worker_args(engine, queue, name=name, rq_worker_class=rq_worker_class)
    command.args = [sys.executable, *args]
    return command


# The workers the docs give: RQ's forking worker, RQ's SimpleWorker (no work horse: the
# recipe for short jobs at a higher rate), Celery's prefork worker.
WORKERS = [
    pytest.param("rq", None, id="rq"),
    pytest.param("rq", "rq.worker.SimpleWorker", id="rq-simple"),
    pytest.param("celery", None, id="celery"),
]


def scheduler(queue: str) -> ManageCommand:
    return ManageCommand(
        "runscheduler", DJANGO_SETTINGS_MODULE=SETTINGS, SCHEDULES_WORKER_QUEUE=queue
    )


def wait(
    predicate: Callable[[], object], what: str, *processes: ManageCommand, timeout: float = 120
) -> None:
    """wait_until with the processes' output in the failure."""
    try:
        wait_until(predicate, timeout=timeout, message=what)
    except AssertionError as exc:
        logs = "\n".join(f"--- {' '.join(p.args[2:5])}\n{p.output()}" for p in processes)
        raise AssertionError(f"{exc}\n{logs}") from None


def in_broker(engine: str, queue: str) -> int:
    """How many messages wait in the engine's queue on Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        if engine == "rq":
            return int(client.llen(f"rq:queue:{queue}"))
        # kombu's Redis transport: one list per priority step, named after the queue.
        return sum(int(client.llen(key)) for key in client.scan_iter(f"{queue}*"))
    finally:
        client.close()


def ledger_lines(path: Path, kind: str = "start") -> list[list[str]]:
    """The ledger's start lines (`id attempt time pid`) or its end lines (`id end time pid`)."""
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines()]
    return [line for line in lines if (line[1] == "end") == (kind == "end")]


@pytest.mark.parametrize(("engine", "worker_class"), WORKERS)
def test_a_real_worker_runs_each_occurrence_once(
    engine: str, worker_class: str | None, queue: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    for n in range(3):
        api.add_job(
            "workers.ledger", "interval", seconds=1, kwargs={"path": str(ledger)},
            id=f"{engine}-{n}", executor=engine,
        )  # fmt: skip
    engine_worker = worker(engine, queue, rq_worker_class=worker_class)
    with engine_worker, scheduler(queue) as loop:

        def succeeded() -> int:
            return Execution.objects.filter(status=ExecutionStatus.SUCCEEDED).count()

        wait(lambda: succeeded() >= 12, f"12 runs on {engine}", loop, engine_worker)
        assert loop.stop() == 0, loop.output()
        # The engine's own id of each message names the execution and the delivery.
        first = Execution.objects.filter(status=ExecutionStatus.SUCCEEDED).first()
        assert first is not None
        wait(lambda: engine_id(first.pk, 1) in engine_worker.output(), "the id", engine_worker)
        # What the scheduler handed over before it stopped still runs on the worker.
        wait(
            lambda: not Execution.objects.filter(status__in=["pending", "running"]).exists(),
            "the last runs",
            engine_worker,
        )
    rows = list(Execution.objects.exclude(status=ExecutionStatus.SKIPPED))
    assert {row.status for row in rows} == {ExecutionStatus.SUCCEEDED}, [
        (row.pk, row.status, row.reason) for row in rows
    ]
    assert {row.executor for row in rows} == {engine}
    lines = ledger_lines(ledger)
    ran = Counter(int(line[0]) for line in lines)
    assert ran == Counter({row.pk: 1 for row in rows})  # each run once, no run twice
    # The job ran in the worker's processes, never in the scheduler's.
    assert loop.pid not in {int(line[3]) for line in lines}
    assert all(f":{loop.pid}:" not in row.worker for row in rows)


@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_an_execution_left_in_the_queue_runs_when_a_worker_comes(
    engine: str, queue: str, tmp_path: Path
) -> None:
    """The scheduler enqueues with no worker up (the messages wait in the broker); a worker
    started later runs each once: the hand-off does not depend on a worker being there."""
    ledger = tmp_path / "ledger.txt"
    api.add_job(
        "workers.ledger", "interval", seconds=3600, kwargs={"path": str(ledger)},
        id=f"{engine}-late", executor=engine, enabled=False,
    )  # fmt: skip
    api.run_job_now(f"{engine}-late")
    with scheduler(queue) as loop:
        wait(lambda: in_broker(engine, queue) == 1, "the message in the broker", loop)
        assert loop.stop() == 0, loop.output()
    assert Execution.objects.get().status == ExecutionStatus.PENDING
    with worker(engine, queue) as engine_worker:
        wait(
            lambda: Execution.objects.get().status == ExecutionStatus.SUCCEEDED,
            "the late worker's run",
            loop,
            engine_worker,
        )
    assert [line[0] for line in ledger_lines(ledger)] == [str(Execution.objects.get().pk)]


@pytest.mark.parametrize(("engine", "worker_class"), WORKERS)
def test_the_engine_stops_a_job_at_its_timeout(
    engine: str, worker_class: str | None, queue: str, tmp_path: Path
) -> None:
    """A 1 s timeout on a 6 s job: the row is failed with the timeout's reason, and the job
    is stopped (no end line), by RQ's own job timeout brought forward in the work horse (in
    SimpleWorker's own process), by the runner's alarm in Celery's prefork child."""
    ledger = tmp_path / "ledger.txt"
    api.add_job(
        "workers.ledger", "interval", seconds=3600, kwargs={"path": str(ledger), "seconds": 6},
        id=f"{engine}-slow", executor=engine, enabled=False, timeout=1,
    )  # fmt: skip
    execution = api.run_job_now(f"{engine}-slow")
    engine_worker = worker(engine, queue, rq_worker_class=worker_class)
    with engine_worker, scheduler(queue) as loop:
        wait(
            lambda: Execution.objects.get().status == ExecutionStatus.FAILED,
            "the timeout",
            loop,
            engine_worker,
        )
        execution.refresh_from_db()
        assert execution.reason.startswith("timeout"), execution.reason
        time.sleep(7)  # past the job's own end, had it run on
        output = engine_worker.output()
    assert [line[0] for line in ledger_lines(ledger)] == [str(execution.pk)]
    assert ledger_lines(ledger, "end") == [], output
