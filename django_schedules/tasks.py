"""The one internal task through which the ``tasks`` executor hands executions to Django's
tasks framework: ``run_execution(execution_id, delivery, not_before)``.

It carries only numbers, so a job needs no special signature, and the outcome is kept on the
Execution row even when a backend cannot store results. A worker claims the row by CAS
``pending -> running``: a duplicate delivery runs nothing. Imported only when the ``tasks``
executor is used: it needs ``django.tasks`` (Django 6) or the ``django-tasks`` backport.

The task is built **for each backend and queue** an executor names (:func:`task_for`), with
that backend's own task class: a Celery backend registers it with Celery when it is built,
so importing this module (Celery's ``autodiscover_tasks`` does, in the worker) registers it
under every ``TASKS`` alias a ``tasks`` executor uses, not only ``default``. Nothing is built
at import for a backend that refuses it: the system checks report that
(:func:`django_schedules.checks.check_tasks_executors`), and the module always imports.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

try:  # Django 6: the framework is in core, and wins when the backport is installed too.
    from django.tasks import (  # type: ignore[import-not-found,unused-ignore]
        DEFAULT_TASK_BACKEND_ALIAS,
        DEFAULT_TASK_QUEUE_NAME,
        task_backends,
    )
except ImportError:  # Django 5.2: the backport
    from django_tasks import (  # type: ignore[no-redef,assignment,unused-ignore]
        DEFAULT_TASK_BACKEND_ALIAS,
        DEFAULT_TASK_QUEUE_NAME,
        task_backends,
    )

from django.core.signals import setting_changed
from django.db import connections

from django_schedules import store, tracing
from django_schedules.conf import conf
from django_schedules.runner import run_execution_now

logger = logging.getLogger("django_schedules.tasks")

# The longest a worker waits for the occurrence's instant (`not_before`): the executor sends
# a message at most its `defer_over` (capped to this) ahead, so more means the clocks
# disagree. executors.djangotasks.MOST_WAIT is the same number.
MOST_WAIT = 5.0


@contextmanager
def _heartbeat(execution_id: int, using: str) -> Iterator[None]:
    """Refresh the row's heartbeat while the job runs: the worker is not the scheduler
    process, which heartbeats only the runs it executes itself."""
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(conf.SCHEDULES_LEASE_TTL / 3):
                store.heartbeat([execution_id], using)
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"schedules-heartbeat-{execution_id}")
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextmanager
def _engine_time_limit(execution_id: int, using: str, wait: float) -> Iterator[None]:
    """In RQ's work horse, RQ owns SIGALRM (its job timeout), so the runner cannot stop a job
    itself there: it marks the row failed at the deadline with a watchdog. Bring RQ's alarm
    forward to one second past the schedule's timeout, so RQ stops the job
    (``JobTimeoutException``) rather than letting it run to the queue's ``DEFAULT_TIMEOUT``.
    Celery's prefork children and ``db_worker`` leave SIGALRM free: the runner's own alarm
    stops the job there."""
    if threading.current_thread() is not threading.main_thread() or not _in_rq_job():
        yield
        return
    execution = store.get_execution(execution_id, using)
    timeout = execution.schedule.timeout if execution is not None and execution.schedule else None
    if timeout is not None:
        left = signal.alarm(0)  # what RQ armed for this job
        ours = math.ceil(wait + timeout) + 1
        signal.alarm(min(left, ours) if left else ours)
    yield


def _in_rq_job() -> bool:
    try:
        from rq import get_current_job
    except ImportError:
        return False
    return get_current_job() is not None


def _run_execution(
    execution_id: int,
    delivery: int = 1,
    not_before: float | None = None,
    trace: dict[str, str] | None = None,
) -> str:
    """Run one Execution of django-schedules (a no-op when another worker has it).

    ``delivery``: which enqueue of this execution this message is (1 the first; the
    sweeper's re-deliveries count on), for the engine's logs. ``not_before``: the
    occurrence's instant as a POSIX timestamp: the worker claims the row at once and starts
    the job then, so a short lead needs no deferral by the broker. ``trace``: the claim's
    trace context (W3C ``traceparent``), so the run's span continues the claim's trace."""
    using = conf.SCHEDULES_DATABASE
    start_at = None
    if not_before is not None:
        start_at = time.monotonic() + min(max(not_before - time.time(), 0.0), MOST_WAIT)
    logger.debug("execution %d, delivery %d", execution_id, delivery)
    wait = 0.0 if start_at is None else max(start_at - time.monotonic(), 0.0)
    with _heartbeat(execution_id, using), _engine_time_limit(execution_id, using, wait):
        # No scheduler watches this run: the worker stops it at its timeout itself.
        return run_execution_now(
            execution_id, None, using, start_at=start_at, stop_at_timeout=True, trace=trace
        )


# The frameworks find a task by its function's dotted path, which must lead back to a task
# object: this module's `run_execution` (built on first use by __getattr__ below).
_run_execution.__name__ = _run_execution.__qualname__ = "run_execution"

# How SCHEDULES_EXECUTORS names the tasks executor (executors.base.BACKENDS, not imported:
# the executors import this module).
TASKS_BACKEND_NAMES = ("tasks", "django_schedules.executors.TasksExecutor")

_built: dict[tuple[str, str, int | None], Any] = {}
_built_lock = threading.Lock()


def get_backend(alias: str) -> Any:
    """The TASKS backend `alias` (the framework's error when there is none)."""
    return task_backends[alias]


def queue_for(backend: str, queue_name: str | None) -> str:
    """The queue a task for `backend` goes to: `queue_name`, else the framework's default."""
    return queue_name or DEFAULT_TASK_QUEUE_NAME


def task_for(backend: str, queue_name: str | None = None, priority: int | None = None) -> Any:
    """``run_execution`` built by `backend`'s own task class for `queue_name` (a Celery
    backend registers it with Celery here). Raises the framework's error when the backend
    is missing or refuses the queue or the priority."""
    key = (backend, queue_for(backend, queue_name), priority)
    with _built_lock:
        built = _built.get(key)
    if built is not None:
        return built
    configured = task_backends[backend]
    changes: dict[str, Any] = {}
    if priority is not None:
        changes["priority"] = priority
    built = configured.task_class(
        func=_run_execution, backend=backend, queue_name=key[1], **changes
    )
    with _built_lock:
        return _built.setdefault(key, built)


def executor_targets() -> list[tuple[str, str, str | None, int | None]]:
    """(executor name, TASKS alias, queue name, priority) of each ``tasks`` executor in
    ``SCHEDULES_EXECUTORS``."""
    executors: object = conf.SCHEDULES_EXECUTORS
    found: list[tuple[str, str, str | None, int | None]] = []
    if not isinstance(executors, dict):
        return found
    for name, entry in executors.items():
        if not isinstance(entry, dict) or entry.get("BACKEND") not in TASKS_BACKEND_NAMES:
            continue
        options = entry.get("OPTIONS") or {}
        if not isinstance(options, dict):
            continue
        queue = options.get("queue_name")
        priority = options.get("priority")
        found.append(
            (
                str(name),
                str(options.get("backend", DEFAULT_TASK_BACKEND_ALIAS)),
                queue if isinstance(queue, str) else None,
                priority if isinstance(priority, int) else None,
            )
        )
    return found


def build_all() -> list[tuple[str, Exception]]:
    """Build the task for every ``tasks`` executor; return (executor, error) of those that
    cannot be built. Called at import (a worker registers them all) and by the checks."""
    failed: list[tuple[str, Exception]] = []
    for name, backend, queue, priority in executor_targets():
        try:
            task_for(backend, queue, priority)
        except Exception as exc:
            failed.append((name, exc))
    return failed


def __getattr__(name: str) -> Any:
    """``run_execution``: what a worker imports by the task's dotted path. Built for the first
    ``tasks`` executor's backend and queue (else the default backend's default queue); the
    worker then runs it under the backend and queue of the message it got."""
    if name != "run_execution":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    targets = executor_targets()
    _, backend, queue, _ = targets[0] if targets else ("", DEFAULT_TASK_BACKEND_ALIAS, None, None)
    built = task_for(backend, queue)
    globals()["run_execution"] = built
    return built


def enqueue(
    execution_id: int,
    *,
    backend: str,
    queue_name: str | None,
    priority: int | None = None,
    delivery: int = 1,
    not_before: datetime | None = None,
    run_after: datetime | None = None,
) -> str:
    """Enqueue ``run_execution`` for `execution_id` on `backend`; return the engine's id.

    `run_after` defers the message in the broker (only where the backend can defer);
    `not_before` has the worker wait for the instant itself."""
    configured = task_for(backend, queue_name, priority)
    if run_after is not None and configured.get_backend().supports_defer:
        configured = configured.using(run_after=run_after)
    instant = None if not_before is None else not_before.timestamp()
    result = configured.enqueue(*_args(execution_id, delivery, instant))
    return str(result.id)


def _args(execution_id: int, delivery: int, instant: float | None) -> list[Any]:
    """``run_execution``'s arguments for a delivery: the claim's trace context last, when
    there is one (:mod:`tracing`; kept for a delivery sent again)."""
    carrier = tracing.carrier_for(execution_id, take=False)
    args: list[Any] = [execution_id, delivery, instant]
    return args if carrier is None else [*args, carrier]


# One delivery for enqueue_many: (execution id, delivery number, instant, run_after or None).
Delivery = tuple[int, int, datetime, datetime | None]


def engine_id(execution_id: int, delivery: int) -> str:
    """The engine's id of a delivery (RQ's job id, Celery's task id): the engine's own tools
    then show which execution and which delivery a message is. It ends with the namespace of
    the database the execution is in (:func:`_namespace`): an engine's ids are global to its
    broker, and execution ids start again in a database created again."""
    return f"schedules-{execution_id}-{delivery}-{_namespace(conf.SCHEDULES_DATABASE)}"


_namespaces: dict[str, str] = {}


def _namespace(using: str) -> str:
    """The instant django-schedules' first migration was applied to the database `using`, in
    microseconds, base 36: fixed for the database's life, another for a database created
    again (read once per process). Without it, a benchmark's new database reused the ids of
    the one before on the same Redis: RQ keeps a finished job's hash under its id, with an
    expiry, and a new job given that id took the expiry over and vanished from Redis before
    a worker reached it (381 of 1,000)."""
    with _built_lock:
        known = _namespaces.get(using)
    if known is None:
        from django.db.migrations.recorder import MigrationRecorder

        applied = (
            MigrationRecorder(connections[using])
            .migration_qs.filter(app="django_schedules", name="0001_initial")
            .values_list("applied", flat=True)
            .first()
        )
        number = 0 if applied is None else int(applied.timestamp() * 1_000_000)
        digits = ""
        while number:
            number, digit = divmod(number, 36)
            digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        with _built_lock:
            known = _namespaces.setdefault(using, digits or "0")
    return known


def enqueue_many(
    deliveries: list[Delivery], *, backend: str, queue_name: str | None, priority: int | None
) -> None:
    """Enqueue each delivery; raise when any could not be (the caller retries them all, which
    is harmless: a worker's CAS keeps a run single).

    ``django.tasks`` has no bulk enqueue. For django-tasks-rq the messages go in one Redis
    pipeline over one kept connection (the backend itself opens a connection per enqueue),
    with the job id :func:`engine_id`; for Celery over one producer (one pipeline on Redis);
    other backends get one ``enqueue`` each."""
    task = task_for(backend, queue_name, priority)
    configured = task.get_backend()
    now: list[Delivery] = []
    later: list[Delivery] = []
    for d in deliveries:
        (now if d[3] is None or not configured.supports_defer else later).append(d)
    engine = type(configured).__module__.split(".")[0]
    if now and engine == "django_tasks_rq":
        _rq_enqueue_many(task, now)
        now = []
    elif now and engine in CELERY_ENGINES:
        _celery_enqueue_many(task, configured, now)
        now = []
    for execution_id, delivery, instant, run_after in now + later:
        enqueue(
            execution_id,
            backend=backend,
            queue_name=queue_name,
            priority=priority,
            delivery=delivery,
            not_before=instant,
            run_after=run_after,
        )


_rq_queues: dict[str, Any] = {}


def _rq_enqueue_many(task: Any, deliveries: list[Delivery]) -> None:
    """What django-tasks-rq's ``enqueue`` writes (its job class, callbacks and meta, so its
    worker runs the job as its own), for many jobs in one pipeline."""
    import django_rq
    from django_tasks_rq.backend import Job, failed_callback, success_callback
    from rq import Callback

    with _built_lock:
        queue = _rq_queues.get(task.queue_name)
    if queue is None:
        # One client (a connection pool) per queue, kept: connecting costs more than sending.
        queue = django_rq.get_queue(task.queue_name, job_class=Job)
        with _built_lock:
            queue = _rq_queues.setdefault(task.queue_name, queue)
    datas = [
        queue.prepare_data(
            task.module_path,
            args=_args(execution_id, delivery, instant.timestamp()),
            kwargs={},
            job_id=engine_id(execution_id, delivery),
            at_front=task.priority >= 100,
            meta={"backend_name": task.backend},
            on_success=Callback(success_callback),
            on_failure=Callback(failed_callback),
        )
        for execution_id, delivery, instant, _ in deliveries
    ]
    queue.enqueue_many(datas)


def _batched(producer: Any, size: int) -> contextlib.AbstractContextManager[Any]:
    """kombu's publish batch (5.7+): on Redis the messages go in one pipeline, sent when the
    block ends (on an error, none not yet sent is: the caller sends them all again). Other
    transports, and older kombu, publish each at once."""
    batch = getattr(producer, "batch", None)
    return batch(max_size=max(size, 1)) if batch is not None else contextlib.nullcontext()


def _celery_app(configured: Any) -> Any:
    """The Celery app a django-tasks-celery or django-tasks-fennel backend sends with."""
    if type(configured).__module__.startswith("django_tasks_celery."):
        return configured._get_celery_app()
    from celery import current_app

    return current_app


def _celery_enqueue_many(task: Any, configured: Any, deliveries: list[Delivery]) -> None:
    """What django-tasks-celery's or django-tasks-fennel's ``enqueue`` sends (the Celery
    task name they register, the queue, the priority), for many messages over one producer,
    with the task id :func:`engine_id`.

    ``send_task`` works out, for every message, what is the same for all of a batch: the
    task's execution options, the route, a dozen reads of the app's conf (each a walk through
    Django's settings). This does that once, then builds and publishes each message with
    Celery's own ``create_task_message`` and ``send_task_message`` (so the publish signals,
    the sent event and the retry policy are Celery's): 2,000 messages to Redis in 0.075 s
    instead of 0.22 s. A task with an ``expires`` (an instant per message) goes through
    ``send_task``. The result backend's ``on_task_call`` is not made: nobody here waits on
    a Celery result (the run's is on its Execution row)."""
    app = _celery_app(configured)
    if type(configured).__module__.startswith("django_tasks_celery."):
        name = task.module_path
        options = configured._build_send_options(task)
    else:
        from django_tasks_fennel import backend as fennel

        name = fennel._to_celery_name(task.module_path)
        options = {
            "queue": task.queue_name,
            "priority": fennel._map_priority(task.priority),
            "headers": {fennel.DJANGO_TASKS_PRIORITY_HEADER: task.priority},
        }
    task_type = app._tasks.get(name)  # as send_task looks it up: without finalizing the app
    exec_options = task_type._get_exec_options() if task_type is not None else {}
    options = {**{k: v for k, v in exec_options.items() if v is not None}, **options}
    limits = {key: options.pop(key, None) for key in ("time_limit", "soft_time_limit")}
    expires = options.pop("expires", None)
    ignore_result = options.pop("ignore_result", None)
    first = _args(*deliveries[0][:2], deliveries[0][2].timestamp()) if deliveries else []
    routed = app.amqp.router.route(options, name, first, {}, task_type)
    # The queue is declared with the first message only: kombu caches the declaration, but
    # checking its cache copies and binds the queue again on every publish.
    rest = {**routed, "declare": []}
    sent_event = app.conf.task_send_sent_event
    with app.producer_or_acquire() as producer, _batched(producer, len(deliveries)):
        for n, (execution_id, delivery, instant, _) in enumerate(deliveries):
            args = _args(execution_id, delivery, instant.timestamp())
            task_id = engine_id(execution_id, delivery)
            sending = rest if n else routed
            if expires is not None:
                app.send_task(name, args=args, task_id=task_id, producer=producer, **sending)
                continue
            # Our own repr of our few plain arguments (of a tuple, as the backend passes them):
            # Celery's saferepr costs more than the publish.
            message = app.amqp.create_task_message(
                task_id, name, args, {}, reply_to=app.thread_oid, **limits,
                create_sent_event=sent_event, ignore_result=ignore_result,
                argsrepr=repr(tuple(args)), kwargsrepr="{}", **sending,
            )  # fmt: skip
            app.amqp.send_task_message(producer, name, message, **sending)


# The engines whose workers can stop a run that is going (overlap=cancel_running): Celery
# revokes a task with terminate (its prefork child is killed); RQ's stop-job command kills
# the work horse. django-tasks-db's db_worker and the immediate backend have no such thing.
CELERY_ENGINES = ("django_tasks_celery", "django_tasks_fennel")
STOPPING_ENGINES = ("django_tasks_rq", *CELERY_ENGINES)


def engine_of(backend: str) -> str:
    """The package of the TASKS backend `backend` (``django_tasks_rq``...)."""
    return type(task_backends[backend]).__module__.split(".")[0]


def stop_in_engine(
    backend: str, queue_name: str | None, execution_id: int, deliveries: int
) -> bool:
    """Stop the run of `execution_id` in its engine's worker, by the engine ids of its first
    `deliveries` messages (:func:`engine_id`); False where the engine cannot stop a run."""
    engine = engine_of(backend)
    ids = [engine_id(execution_id, d) for d in range(1, deliveries + 1)]
    if engine in CELERY_ENGINES:
        task = task_for(backend, queue_name)
        _celery_app(task.get_backend()).control.revoke(ids, terminate=True, signal="SIGKILL")
        return True
    if engine != "django_tasks_rq":
        return False
    import django_rq
    from rq.command import send_stop_job_command
    from rq.exceptions import InvalidJobOperation, NoSuchJobError

    connection = django_rq.get_connection(task_for(backend, queue_name).queue_name)
    stopped = False
    for job_id in ids:
        try:
            send_stop_job_command(connection, job_id)
        except (NoSuchJobError, InvalidJobOperation):  # no such message, or not running
            continue
        stopped = True
    return stopped


def backend_runs_at_once(backend: str) -> bool:
    """True for the framework's immediate backend, which runs the task inside ``enqueue``:
    no broker to wait for, and the run belongs to the caller's thread (tests, ``--once``)."""
    return type(task_backends[backend]).__module__.endswith(".backends.immediate")


def backend_writes_to(backend: str, using: str) -> bool:
    """True when the tasks backend `backend` is django-tasks-db storing tasks in `using`."""
    configured = task_backends[backend]
    if type(configured).__module__.split(".")[0] != "django_tasks_db":
        return False
    from django.db import router
    from django_tasks_db.models import DBTaskResult

    return router.db_for_write(DBTaskResult) == using


def _forget(*, setting: str, **kwargs: Any) -> None:
    """Tests change TASKS and SCHEDULES_EXECUTORS: build the tasks afresh."""
    if setting in ("TASKS", "SCHEDULES_EXECUTORS", "RQ_QUEUES"):
        with _built_lock:
            _built.clear()
            _rq_queues.clear()
        globals().pop("run_execution", None)
    if setting in ("DATABASES", "SCHEDULES_DATABASE"):
        with _built_lock:
            _namespaces.clear()


setting_changed.connect(_forget)

for _name, _error in build_all():
    logger.debug("the tasks executor %r cannot build its task: %s", _name, _error)
