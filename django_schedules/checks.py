"""System checks. Each problem has its own id, documented in docs/checks.md under that id."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Tags, Warning
from django.core.checks import register as register_check

from django_schedules.conf import SQLITE_SYNCHRONOUS, conf

DOCS = "https://github.com/django-schedules/django-schedules/blob/main/docs/checks.md"


def _error(check_id: str, msg: str, hint: str) -> Error:
    """Build an Error whose hint links to the id's own section of docs/checks.md."""
    anchor = check_id.lower().replace(".", "")
    return Error(msg, hint=f"{hint} See {DOCS}#{anchor}", id=check_id)


def _warning(check_id: str, msg: str, hint: str) -> Warning:
    """Build a Warning whose hint links to the id's own section of docs/checks.md."""
    anchor = check_id.lower().replace(".", "")
    return Warning(msg, hint=f"{hint} See {DOCS}#{anchor}", id=check_id)


def _positive_number(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    )


def check_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """Validate the SCHEDULES_* settings and the settings the app relies on."""
    errors: list[CheckMessage] = []
    if not conf.USE_TZ:
        errors.append(
            _error(
                "django_schedules.E001",
                "django-schedules requires USE_TZ = True: schedules are stored as aware UTC "
                "datetimes and fire at instants, not at wall-clock readings.",
                "Set USE_TZ = True in your settings.",
            )
        )
    for setting, check_id in (
        ("SCHEDULES_POLL_INTERVAL", "django_schedules.E002"),
        ("SCHEDULES_LEASE_TTL", "django_schedules.E003"),
        ("SCHEDULES_HEALTH_MAX_LAG", "django_schedules.E017"),
    ):
        value = getattr(conf, setting)
        if not _positive_number(value):
            errors.append(
                _error(
                    check_id,
                    f"{setting} must be a finite number of seconds greater than zero, "
                    f"got {value!r}.",
                    "Give it in seconds, such as 0.5, or remove it.",
                )
            )
    grace: object = conf.SCHEDULES_SHUTDOWN_GRACE
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
        errors.append(
            _error(
                "django_schedules.E004",
                "SCHEDULES_SHUTDOWN_GRACE must be a number of seconds, zero or more, "
                f"got {grace!r}.",
                "Give it in seconds, such as 30, or remove it.",
            )
        )
    chars: object = conf.SCHEDULES_RESULT_MAX_CHARS
    if isinstance(chars, bool) or not isinstance(chars, int) or chars < 0:
        errors.append(
            _error(
                "django_schedules.E005",
                f"SCHEDULES_RESULT_MAX_CHARS must be a whole number, zero or more, got {chars!r}.",
                "Give a number of characters, such as 2000.",
            )
        )
    keep: object = conf.SCHEDULES_KEEP_EXECUTIONS
    if keep is not None and not (isinstance(keep, timedelta) and keep > timedelta(0)):
        errors.append(
            _error(
                "django_schedules.E006",
                "SCHEDULES_KEEP_EXECUTIONS must be a timedelta greater than zero, or None to "
                f"keep every execution, got {keep!r}.",
                "Such as timedelta(days=30).",
            )
        )
    return errors


def check_max_catch_up(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """SCHEDULES_MAX_CATCH_UP: a whole number of occurrences, 1 or more."""
    value: object = conf.SCHEDULES_MAX_CATCH_UP
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return []
    return [
        _error(
            "django_schedules.E011",
            f"SCHEDULES_MAX_CATCH_UP must be a whole number, 1 or more, got {value!r}.",
            "Give the most missed occurrences a run_all schedule runs after downtime, such as 100.",
        )
    ]


# The shortest metrics token accepted: a guessable one would open the metrics to anyone.
METRICS_TOKEN_MIN_CHARS = 16


def check_metrics(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """SCHEDULES_METRICS_TOKEN: a string of 16 characters or more, or None;
    SCHEDULES_METRICS_PUBLIC: a bool."""
    errors: list[CheckMessage] = []
    token: object = conf.SCHEDULES_METRICS_TOKEN
    if token is not None and not (isinstance(token, str) and len(token) >= METRICS_TOKEN_MIN_CHARS):
        shown = f"a {type(token).__name__}" if not isinstance(token, str) else "a short string"
        errors.append(
            _error(
                "django_schedules.E018",
                f"SCHEDULES_METRICS_TOKEN must be a string of {METRICS_TOKEN_MIN_CHARS} "
                f"characters or more, or None, got {shown}.",
                "Such as secrets.token_urlsafe(32), read from the environment.",
            )
        )
    public: object = conf.SCHEDULES_METRICS_PUBLIC
    if not isinstance(public, bool):
        errors.append(
            _error(
                "django_schedules.E019",
                f"SCHEDULES_METRICS_PUBLIC must be True or False, got {public!r}.",
                "Leave it False unless the metrics URL is reachable only by Prometheus.",
            )
        )
    return errors


def check_sqlite_synchronous(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """SCHEDULES_SQLITE_SYNCHRONOUS: one of SQLite's durable ``synchronous`` levels."""
    value: object = conf.SCHEDULES_SQLITE_SYNCHRONOUS
    if value in SQLITE_SYNCHRONOUS:
        return []
    return [
        _error(
            "django_schedules.E012",
            f"SCHEDULES_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}, "
            f"got {value!r}.",
            "NORMAL (the default) keeps every commit through a crash of the process; FULL also "
            "through a power cut, at a cost in runs a second.",
        )
    ]


BUILTIN_BACKENDS = frozenset({"threadpool", "processpool", "inline", "tasks"})


def check_executors(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """SCHEDULES_EXECUTORS: a dict like DATABASES, with a "default" entry."""
    executors: object = conf.SCHEDULES_EXECUTORS
    problems: list[str] = []
    shaped = isinstance(executors, dict)
    if not isinstance(executors, dict):
        problems.append(f"SCHEDULES_EXECUTORS must be a dict of names to dicts, got {executors!r}.")
        executors = {}
    names: list[object] = list(executors)
    for name, entry in executors.items():
        where = f"SCHEDULES_EXECUTORS[{name!r}]"
        if not isinstance(name, str) or not name:
            problems.append(f"SCHEDULES_EXECUTORS keys must be non-empty strings, got {name!r}.")
        elif not isinstance(entry, dict):
            problems.append(f"{where} must be a dict with a BACKEND, got {entry!r}.")
        else:
            backend = entry.get("BACKEND")
            if not isinstance(backend, str) or not (backend in BUILTIN_BACKENDS or "." in backend):
                problems.append(
                    f"{where}['BACKEND'] must be one of {', '.join(sorted(BUILTIN_BACKENDS))} "
                    f"or the dotted path of an executor class, got {backend!r}."
                )
            if not isinstance(entry.get("OPTIONS", {}), dict):
                problems.append(f"{where}['OPTIONS'] must be a dict, got {entry['OPTIONS']!r}.")
            unknown = sorted(str(key) for key in set(entry) - {"BACKEND", "OPTIONS"})
            if unknown:
                problems.append(
                    f"{where} has unknown keys {unknown}; only BACKEND and OPTIONS are read."
                )
    errors: list[CheckMessage] = [
        _error(
            "django_schedules.E007",
            problem,
            'Such as {"default": {"BACKEND": "threadpool", "OPTIONS": {"max_workers": 10}}}.',
        )
        for problem in problems
    ]
    if shaped and "default" not in names:
        errors.append(
            _error(
                "django_schedules.E008",
                "SCHEDULES_EXECUTORS has no 'default' entry, which schedules use unless they "
                f"name another executor; got the names {sorted(map(str, names))}.",
                'Add a "default" entry, such as {"BACKEND": "threadpool"}.',
            )
        )
    return errors


def check_tasks_executors(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Each ``tasks`` executor: the framework is installed, its ``TASKS`` alias exists, the
    backend accepts its queue and priority (the task is built as the scheduler will build
    it; a Celery backend registers it with Celery on the way, in a worker too)."""
    from django_schedules.executors.base import BACKENDS

    executors: object = conf.SCHEDULES_EXECUTORS
    if not isinstance(executors, dict) or not any(
        isinstance(e, dict) and e.get("BACKEND") in ("tasks", BACKENDS["tasks"])
        for e in executors.values()
    ):
        return []
    try:
        from django_schedules import tasks
    except ImportError as exc:
        return [
            _error(
                "django_schedules.E013",
                "SCHEDULES_EXECUTORS has a 'tasks' executor, which needs Django's tasks "
                f"framework: django.tasks (Django 6) or the django-tasks package ({exc}).",
                "On Django 5.2, pip install 'django-schedules[tasks]' (django-tasks).",
            )
        ]
    errors: list[CheckMessage] = []
    for name, alias, queue, priority in tasks.executor_targets():
        where = f"SCHEDULES_EXECUTORS[{name!r}]['OPTIONS']"
        try:
            backend = tasks.get_backend(alias)
        except Exception as exc:
            errors.append(
                _error(
                    "django_schedules.E014",
                    f"{where}['backend'] is {alias!r}, which is not a usable TASKS backend: {exc}",
                    "Name a key of TASKS (the default is 'default'), or fix that backend.",
                )
            )
            continue
        queue_name = tasks.queue_for(alias, queue)
        accepted = sorted(backend.queues or ())
        if accepted and queue_name not in accepted:
            said = (
                f"{where}['queue_name'] is {queue!r}"
                if queue
                else f"{where} sets no 'queue_name', so its tasks go to {queue_name!r}"
            )
            errors.append(
                _error(
                    "django_schedules.E015",
                    f"{said}, but TASKS[{alias!r}] accepts only the QUEUES {accepted}: "
                    "no execution could be enqueued.",
                    f"Set {where}['queue_name'] to one of {accepted}, or add "
                    f"{queue_name!r} to TASKS[{alias!r}]['QUEUES'].",
                )
            )
            continue
        try:
            tasks.task_for(alias, queue, priority)
        except Exception as exc:
            errors.append(
                _error(
                    "django_schedules.E016",
                    f"{where} (backend {alias!r}, queue_name {queue_name!r}, priority "
                    f"{priority!r}): the backend refuses the task: {exc}",
                    "Fix the option the message names, or the backend's settings in TASKS.",
                )
            )
    return errors


def check_declared_jobs(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Each SCHEDULES_JOBS entry must be a valid add_job call. Without the database: checks
    run before migrations too, so whether its exclusion calendars exist is left to the sync."""
    from django_schedules.options import without_database
    from django_schedules.sync import declared_errors

    with without_database():
        errors = declared_errors()
    return [
        _error(
            "django_schedules.E009",
            f"{error}",
            "Give each entry the keyword arguments add_job takes, with a registered 'func'.",
        )
        for error in errors
    ]


def check_sqlite_transaction_mode(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """On SQLite, the app's database alias should use transaction_mode="IMMEDIATE"."""
    alias = conf.SCHEDULES_DATABASE
    databases = conf.DATABASES
    if alias not in databases:
        return [
            _error(
                "django_schedules.E010",
                f"SCHEDULES_DATABASE names the database alias {alias!r}, which is not in "
                f"DATABASES (aliases: {sorted(databases)}).",
                "Name a key of DATABASES, or remove SCHEDULES_DATABASE to use 'default'.",
            )
        ]
    database = databases[alias]
    if "sqlite" not in database.get("ENGINE", ""):
        return []
    mode = (database.get("OPTIONS") or {}).get("transaction_mode")
    if isinstance(mode, str) and mode.upper() == "IMMEDIATE":
        return []
    return [
        _warning(
            "django_schedules.W001",
            f"DATABASES[{alias!r}] is SQLite with transaction_mode={mode!r}: in that mode a "
            "transaction that reads then writes fails at once with 'database is locked' when "
            "another process writes (the busy timeout does not apply), so the admin and your "
            "own code can fail while the scheduler runs.",
            f'Set DATABASES[{alias!r}]["OPTIONS"]["transaction_mode"] = "IMMEDIATE" '
            '(and a "timeout" of some seconds).',
        )
    ]


def check_unregistered_callables(
    app_configs: Sequence[AppConfig] | None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Schedules whose callable is not registered (a job renamed or removed by a deploy).

    A database check: runs only when the check is given databases (``check --database``,
    ``migrate``), as Django's own database checks do, and only on the app's alias.
    """
    from django.db import DatabaseError

    from django_schedules import store
    from django_schedules.registry import registered_jobs

    alias = conf.SCHEDULES_DATABASE
    if not databases or alias not in databases:
        return []
    try:
        if not store.schedules_table_exists(alias):
            return []  # not migrated yet
        missing = store.unregistered_schedules([job.name for job in registered_jobs()], alias)
    except DatabaseError:
        return []  # the database is not reachable: Django's own checks say so
    return [
        _warning(
            "django_schedules.W002",
            f"Schedule {job_id!r} runs {func!r}, which is not registered: it will be recorded "
            "as failed ('callable not registered') each time it fires.",
            "Register the callable with @django_schedules.job, or point the schedule at a "
            "registered one, or remove the schedule.",
        )
        for job_id, func in missing
    ]


def register() -> None:
    """Register the checks; called from ``SchedulesConfig.ready()``."""
    register_check(check_settings)
    register_check(check_executors)
    register_check(check_max_catch_up)
    register_check(check_metrics)
    register_check(check_tasks_executors)
    register_check(check_sqlite_synchronous)
    register_check(check_declared_jobs)
    register_check(check_sqlite_transaction_mode)
    register_check(check_unregistered_callables, Tags.database)
