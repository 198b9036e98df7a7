"""overlap="cancel_running" on a tasks executor (issue 18): the next occurrence starts, and
the engine stops the run it replaces in its real worker: Celery revokes the task with
terminate (the prefork child running it is killed), RQ's stop-job command kills the work
horse. The replaced run is recorded failed with the policy's reason and never ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from django_schedules import api
from django_schedules.models import Execution, ExecutionStatus

from .test_workers import ledger_lines, scheduler, wait, worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REASON = "cancelled: overlap=cancel_running started the next occurrence"


def gone(pid: int) -> bool:
    """True once process `pid` has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


@pytest.fixture
def engines_here(settings, queue: str) -> None:
    """This process's TASKS name the engines' backends, as in a project whose web and
    scheduler processes share settings: add_job checks that the engine can stop a run."""
    import django

    if django.VERSION >= (6, 0):
        celery = {
            "BACKEND": "django_tasks_celery.CeleryBackend",
            "QUEUES": [queue],
            "OPTIONS": {"CELERY_APP": "tests.workers.celery_app.app"},
        }
    else:
        celery = {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": [queue]}
    rq = {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]}
    settings.TASKS = {**settings.TASKS, "rq": rq, "celery": celery}


@pytest.mark.usefixtures("engines_here")
@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_cancel_running_has_the_engine_stop_the_run_it_replaces(
    engine: str, queue: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    api.add_job(
        "workers.ledger", "interval", seconds=5, kwargs={"path": str(ledger), "seconds": 60},
        id=f"{engine}-cancel", executor=engine, overlap="cancel_running",
    )  # fmt: skip
    cancelled = Execution.objects.filter(status=ExecutionStatus.FAILED, reason=REASON)
    with worker(engine, queue) as engine_worker, scheduler(queue) as loop:
        wait(cancelled.exists, "a run cancelled by the next occurrence", loop, engine_worker)
        first = cancelled.order_by("fire_time").first()
        assert first is not None
        [start] = [line for line in ledger_lines(ledger) if line[0] == str(first.pk)]
        pid = int(start[3])
        wait(lambda: gone(pid), f"the cancelled run's process {pid} to end", loop, engine_worker)
        # The occurrence that replaced it runs in a worker (RQ: once the horse is gone).
        wait(
            lambda: any(int(line[0]) > first.pk for line in ledger_lines(ledger)),
            "the next run to start",
            loop,
            engine_worker,
        )
        assert "stopped" in loop.output(), loop.output()
        assert loop.stop() == 0, loop.output()
    assert f"{first.pk}" not in {line[0] for line in ledger_lines(ledger, "end")}
    first.refresh_from_db()
    assert (first.status, first.reason) == (ExecutionStatus.FAILED, REASON)
