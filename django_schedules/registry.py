"""Which callables may be scheduled, by name.

Only a registered callable can ever be scheduled or run: a schedule row names its job by the
registered name, never by an import path, so a row in the database cannot run arbitrary code.

```python
from django_schedules import job

@job
def send_digest(day: str) -> None: ...  # registered as "reports.jobs.send_digest"

@job(name="reports.cleanup")
def cleanup(context: JobContext) -> None: ...  # gets the fire time, execution id, attempt
```
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from typing import Any, TypeVar, overload

from django_schedules.exceptions import JobAlreadyRegistered, JobNotRegistered

__all__ = [
    "JobContext",
    "RegisteredJob",
    "autodiscover",
    "get_registered",
    "job",
    "lookup",
    "registered_jobs",
]

F = TypeVar("F")

CONTEXT_PARAMETER = "context"
# Why a job registered in a script (``__main__.name``) is not found in another process.
IN_SCRIPT = (
    "was registered in a script (__main__), so it can run only in that script's process: "
    'register it with @job(name="...") in an importable module to run it in another process '
    "or executor"
)


@dataclass(frozen=True)
class JobContext:
    """What a job that declares a ``context`` parameter receives, so it can be idempotent.

    ``fire_time`` is the nominal occurrence (aware, UTC); the same value for every attempt of
    one execution. ``execution_id`` is the ``Execution`` row's primary key; ``attempt`` counts
    from 1.
    """

    fire_time: datetime
    execution_id: int | None
    attempt: int = 1


@dataclass(frozen=True)
class RegisteredJob:
    """A callable that may be scheduled, under its stable name."""

    name: str
    func: Callable[..., Any]
    accepts_context: bool
    is_task: bool
    help: str
    # The django.tasks Task object when ``is_task``; ``func`` is then the task's function.
    task: Any = field(default=None, repr=False, compare=False)

    @cached_property
    def signature(self) -> inspect.Signature:
        """The signature that schedule arguments must bind to (``context`` left out); worked
        out once (the claim checks every due schedule's arguments against it)."""
        signature = inspect.signature(self.func)
        if not self.accepts_context:
            return signature
        return signature.replace(
            parameters=[p for p in signature.parameters.values() if p.name != CONTEXT_PARAMETER]
        )

    def bind(self, args: list[Any] | tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise TypeError (naming the job) when ``args``/``kwargs`` do not fit the callable."""
        if self.accepts_context and CONTEXT_PARAMETER in kwargs:
            raise TypeError(
                f"job {self.name!r}: the 'context' argument is supplied by the scheduler "
                "and may not be given in kwargs"
            )
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"job {self.name!r}{self.signature}: {exc}") from exc

    def call(
        self,
        args: list[Any] | tuple[Any, ...],
        kwargs: dict[str, Any],
        context: JobContext | None = None,
    ) -> Any:
        """Run the job's function (an ``async def`` job returns its coroutine)."""
        if self.accepts_context:
            kwargs = {**kwargs, CONTEXT_PARAMETER: context}
        return self.func(*args, **kwargs)


_lock = threading.RLock()
_by_name: dict[str, RegisteredJob] = {}
# id() of the decorated object (function or Task) -> name; the registry keeps each object
# alive, so its id() is never reused while the entry exists.
_by_object: dict[int, str] = {}


@cache
def task_classes() -> tuple[type, ...]:
    """The ``Task`` classes of Django 6's ``django.tasks`` and of the ``django_tasks`` backport
    that are importable here (either, both or neither)."""
    classes: list[type] = []
    try:
        from django.tasks.base import Task  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        classes.append(Task)
    try:
        from django_tasks.base import Task as BackportTask
    except ImportError:
        pass
    else:
        classes.append(BackportTask)
    return tuple(classes)


def dotted_name(obj: Any) -> str:
    """``module.qualname`` of a function (or of a Task's function)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname:
        raise TypeError(f"cannot register {obj!r}: it has no __module__ and __qualname__")
    return f"{module}.{qualname}"


def _first_doc_line(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def _accepts_context(func: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    param = parameters.get(CONTEXT_PARAMETER)
    return param is not None and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)


def register(obj: Any, name: object = None) -> RegisteredJob:
    """Register a function or a ``django.tasks`` Task; return its registry entry.

    Registering the same function again (a module imported twice, a reload) replaces the
    entry; a different callable under a name already taken raises JobAlreadyRegistered.
    """
    is_task = isinstance(obj, task_classes())
    func: Callable[..., Any] = obj.func if is_task else obj
    if is_task and getattr(obj, "takes_context", False):
        raise TypeError(
            f"cannot register task {dotted_name(func)!r}: it has takes_context=True, which "
            "needs a django.tasks worker; schedule a plain function (it may take a 'context' "
            "parameter) or a task without takes_context"
        )
    if not callable(func):
        raise TypeError(f"cannot register {obj!r}: it is not callable")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise TypeError(f"job name must be a non-empty string, got {name!r}")
    job_name = name if isinstance(name, str) else dotted_name(func)
    entry = RegisteredJob(
        name=job_name,
        func=func,
        accepts_context=_accepts_context(func),
        is_task=is_task,
        help=_first_doc_line(func),
        task=obj if is_task else None,
    )
    with _lock:
        existing = _by_name.get(job_name)
        if existing is not None and dotted_name(existing.func) != dotted_name(func):
            raise JobAlreadyRegistered(
                f"job name {job_name!r} is already registered for "
                f"{dotted_name(existing.func)!r}; cannot register {dotted_name(func)!r} "
                "under it too"
            )
        if existing is not None:
            _by_object.pop(id(existing.task if existing.is_task else existing.func), None)
        _by_name[job_name] = entry
        _by_object[id(obj)] = job_name
    return entry


def unregister(name: str) -> None:
    """Remove a job from the registry (for tests); unknown names are ignored."""
    with _lock:
        entry = _by_name.pop(name, None)
        if entry is not None:
            _by_object.pop(id(entry.task if entry.is_task else entry.func), None)


@overload
def job(func: F, /) -> F: ...
@overload
def job(*, name: str | None = None) -> Callable[[F], F]: ...
def job(func: Any = None, /, *, name: str | None = None) -> Any:
    """Register a function (or a ``django.tasks`` Task) as a schedulable job.

    Use bare (``@job``: the name is ``module.qualname``) or with a stable name
    (``@job(name="reports.digest")``) that survives moving the function. The decorated object
    is returned unchanged.
    """
    if func is None:

        def decorator(inner: F) -> F:
            register(inner, name=name)
            return inner

        return decorator
    register(func, name=name)
    return func


def get_registered(name: str) -> RegisteredJob:
    """Return the job registered under ``name``, or raise JobNotRegistered."""
    entry = _by_name.get(name)
    if entry is None and name.startswith("__main__."):
        raise JobNotRegistered(f"callable {name!r} {IN_SCRIPT}")
    if entry is None:
        raise JobNotRegistered(
            f"callable {name!r} is not registered: decorate it with @django_schedules.job in "
            "a module imported at start-up (each installed app's jobs.py is)"
        )
    return entry


def lookup(func: Any) -> RegisteredJob:
    """Return the registry entry for a name or a registered object, or raise JobNotRegistered.

    A name may use APScheduler's textual form, ``"package.module:function"``.
    """
    if isinstance(func, str):
        if ":" in func:
            module, _, qualname = func.partition(":")
            name = f"{module}.{qualname}"
            if name not in _by_name and func in _by_name:
                name = func
            return get_registered(name)
        return get_registered(func)
    found = _by_object.get(id(func))
    if found is not None:
        return _by_name[found]
    # A bound function of a Task, or a function registered under a Task: match by function.
    inner = getattr(func, "func", func) if isinstance(func, task_classes()) else func
    for entry in list(_by_name.values()):
        if entry.func is inner:
            return entry
    try:
        described = repr(dotted_name(inner))
    except TypeError:
        described = repr(func)
    raise JobNotRegistered(
        f"callable {described} is not registered: decorate it with @django_schedules.job "
        "before scheduling it"
    )


def registered_jobs() -> list[RegisteredJob]:
    """Every registered job, sorted by name."""
    return sorted(_by_name.values(), key=lambda entry: entry.name)


def autodiscover() -> None:
    """Import each installed app's ``jobs`` module, as the admin does with ``admin.py``."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("jobs")
