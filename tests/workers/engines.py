"""The engines' worker command lines, as docs/executors.md gives them: one builder for the
worker tests (tests/workers/) and benchmarks/handoff.py, so both run the workers the docs
tell users to run."""

from __future__ import annotations

SETTINGS = "tests.workers.settings"
# What the test process itself needs to write schedules naming the engines' executors (the
# workers and the schedulers read tests/workers/settings.py).
EXECUTORS = {
    "default": {"BACKEND": "threadpool"},
    "rq": {"BACKEND": "tasks", "OPTIONS": {"backend": "rq"}},
    "celery": {"BACKEND": "tasks", "OPTIONS": {"backend": "celery"}},
}


def worker_args(
    engine: str,
    queue: str,
    *,
    concurrency: int = 2,
    name: str | None = None,
    loglevel: str = "INFO",
    rq_worker_class: str | None = None,
) -> list[str]:
    """The arguments after ``python`` that start `engine`'s worker on `queue`.

    RQ: ``rqworker`` with django-tasks-rq's job class, and RQ's scheduler as many projects
    run it (the hand-off never defers a message in RQ; the kill tests kill its lock's
    holder); one process, one job at a time (`concurrency` is for Celery). Celery: a
    prefork worker of `concurrency` children with the app of tests/workers/celery_app.py.
    `name` tells two workers on one host apart."""
    if engine == "rq":
        args = ["-m", "django", "rqworker", queue, "--job-class", "django_tasks_rq.Job"]
        args += ["--with-scheduler"]
        if rq_worker_class:
            args += ["--worker-class", rq_worker_class]
        if name:
            args += ["--name", name]
        return args
    if engine != "celery":
        raise ValueError(f"engine must be 'rq' or 'celery', got {engine!r}")
    args = ["-m", "celery", "-A", "tests.workers.celery_app", "worker", "-Q", queue]
    args += ["--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]
    args += ["--loglevel", loglevel]
    if name:
        args += ["--hostname", f"{name}@%h"]
    return args
