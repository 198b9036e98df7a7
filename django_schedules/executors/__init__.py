"""Where a claimed execution runs: a thread pool (default), a process pool, inline, or
Django's tasks framework. Executors only dispatch; every run ends up in
:func:`django_schedules.runner.run_execution_now`.

The ``BACKEND`` dotted paths of ``SCHEDULES_EXECUTORS`` name the classes here, such as
``django_schedules.executors.ThreadPoolExecutor``.
"""

from __future__ import annotations

from django_schedules.executors.base import BACKENDS, Executor, build_executors, dropped_any
from django_schedules.executors.djangotasks import TasksExecutor
from django_schedules.executors.processpool import ProcessPoolExecutor
from django_schedules.executors.threadpool import InlineExecutor, ThreadPoolExecutor
from django_schedules.groupcommit import GROUP_COMMIT_MAX, GroupCommit
from django_schedules.runner import cap, run_execution_now, send_signals, worker_identity

__all__ = [
    "BACKENDS",
    "GROUP_COMMIT_MAX",
    "Executor",
    "GroupCommit",
    "InlineExecutor",
    "ProcessPoolExecutor",
    "TasksExecutor",
    "ThreadPoolExecutor",
    "build_executors",
    "cap",
    "dropped_any",
    "run_execution_now",
    "send_signals",
    "worker_identity",
]
