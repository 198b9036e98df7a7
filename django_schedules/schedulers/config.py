"""What a scheduler object's constructor takes from APScheduler, checked and translated.

Pure translation: ``timezone`` to an IANA name, ``job_defaults`` to ``add_job``'s keywords,
``executors`` to ``SCHEDULES_EXECUTORS`` names, ``jobstores`` refused unless they are the
database. Each bad value raises ``SchedulerConfigError`` naming the argument and the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule, SchedulerConfigError
from django_schedules.models import GROUP_RE, GROUP_RULE
from django_schedules.routing import backend_kind

# APScheduler's job defaults that have a counterpart here (add_job's keywords).
JOB_DEFAULTS = ("misfire_grace_time", "coalesce", "max_instances")

# APScheduler's executor kinds -> our backend. Its asyncio, gevent, Tornado and Twisted
# executors run jobs beside the event loop; our thread pool does that (async def jobs go to
# the scheduler object's event loop), and under gevent's monkey-patching its threads are
# greenlets. Its debug executor runs jobs in the scheduler's thread: our inline executor.
EXECUTOR_KINDS = {
    "threadpool": "threadpool",
    "asyncio": "threadpool",
    "gevent": "threadpool",
    "tornado": "threadpool",
    "twisted": "threadpool",
    "processpool": "processpool",
    "debug": "inline",
}
_CLASSES = {
    "ThreadPoolExecutor": "threadpool",
    "ProcessPoolExecutor": "processpool",
    "AsyncIOExecutor": "asyncio",
    "GeventExecutor": "gevent",
    "TornadoExecutor": "tornado",
    "TwistedExecutor": "twisted",
    "DebugExecutor": "debug",
}
DATABASE = "database"


def zone_name(value: Any) -> str:
    """The IANA name of APScheduler's ``timezone`` (a name, a ZoneInfo, UTC or a pytz zone);
    None gives the project's ``TIME_ZONE``."""
    if value is None:
        return conf.TIME_ZONE
    if value is UTC:
        return "UTC"
    key = value if isinstance(value, str) else getattr(value, "key", getattr(value, "zone", None))
    problem = f"timezone must be an IANA zone name or a ZoneInfo, got {value!r}"
    if not isinstance(key, str) or not (isinstance(value, str | tzinfo)):
        raise SchedulerConfigError(problem, "timezone", value=value)
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SchedulerConfigError(problem, "timezone", value=value) from exc
    return key


def group_name(value: Any) -> str:
    """The engine's ``group``: the lease the object competes for, and the group its
    ``add_job`` files schedules under (``remove_all_jobs`` removes that group's own)."""
    if isinstance(value, str) and GROUP_RE.fullmatch(value):
        return value
    raise SchedulerConfigError(f"group must be {GROUP_RULE}, got {value!r}", "group", value=value)


def job_defaults(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """APScheduler's ``job_defaults``; the values are checked by ``add_job`` on first use."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SchedulerConfigError(
            f"job_defaults must be a dict, got {value!r}", "job_defaults", value=value
        )
    unknown = sorted(set(value) - set(JOB_DEFAULTS))
    if unknown:
        raise SchedulerConfigError(
            f"job_defaults does not take {', '.join(map(repr, unknown))}; it takes "
            f"{', '.join(JOB_DEFAULTS)}",
            "job_defaults",
            value=value,
        )
    from django_schedules import options

    defaults = {key: _from_text(key, item) for key, item in value.items()}
    for key in defaults:  # checked now, so a bad default fails at construction, not at add_job
        try:
            if key == "coalesce":
                options.chosen_policy(defaults[key], options.UNSET)
            else:
                options.BY_NAME[key].clean(defaults[key])
        except InvalidSchedule as exc:
            raise SchedulerConfigError(f"job_defaults: {exc}", key, value=value[key]) from exc
    return defaults


_TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0"})


def _from_text(key: str, value: Any) -> Any:
    """A job default given as text (an ini file's, through ``gconfig``) read as APScheduler
    reads it: ``coalesce`` as a boolean word, the others as whole numbers; anything else is
    left for the option's own check to refuse, naming it."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if key == "coalesce":
        return True if text in _TRUE else False if text in _FALSE else value
    return int(text) if text.isascii() and text.isdigit() else value


def from_gconfig(gconfig: Mapping[Any, Any] | None, prefix: str) -> dict[str, Any]:
    """APScheduler's ``gconfig``: the keys that start with ``prefix``, without it, their dots
    nesting (``"job_defaults.coalesce"`` -> ``{"job_defaults": {"coalesce": ...}}``); other
    keys are ignored, as in APScheduler."""
    if gconfig is None:
        return {}
    if not isinstance(gconfig, Mapping):
        raise SchedulerConfigError(f"gconfig must be a dict, got {gconfig!r}", "gconfig")
    if not isinstance(prefix, str):
        raise SchedulerConfigError(f"prefix must be a string, got {prefix!r}", "prefix")
    nested: dict[str, Any] = {}
    for key, value in gconfig.items():
        if not isinstance(key, str) or not key.startswith(prefix):
            continue
        *parents, last = key[len(prefix) :].split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SchedulerConfigError(
                    f"gconfig[{key!r}] nests under {part!r}, which another key sets to a value",
                    "gconfig",
                    value=key,
                )
        node[last] = value
    return nested


def add_executor(executor: Any, alias: str, opts: Mapping[str, Any], where: str) -> str:
    """``add_executor``'s executor as a SCHEDULES_EXECUTORS name: a name, an APScheduler kind
    (``"processpool"``) or executor object, mapped as ``executors`` are."""
    if opts:
        raise SchedulerConfigError(
            f"{where} does not take {', '.join(sorted(opts))}: pool sizes and options are set "
            "in SCHEDULES_EXECUTORS, under the executor's OPTIONS",
            sorted(opts)[0],
        )
    configured = conf.SCHEDULES_EXECUTORS
    if isinstance(executor, str) and executor not in configured and executor in EXECUTOR_KINDS:
        executor = {"type": executor}  # APScheduler's plugin alias: a kind
    return _map_one(alias, executor, where)


def add_jobstore(jobstore: Any, opts: Mapping[str, Any], where: str) -> None:
    """Refuse ``add_jobstore``'s job store unless it is the database, with no options."""
    _check_jobstore(jobstore, where, 'Leave add_jobstore() out (or give "database")')
    if opts:
        raise SchedulerConfigError(
            f"{where} does not take {', '.join(sorted(opts))}: the database job store is "
            "the Schedule table in SCHEDULES_DATABASE, with no options",
            sorted(opts)[0],
        )


def executor_map(value: Mapping[str, Any] | None) -> dict[str, str]:
    """APScheduler's ``executors`` -> {alias: SCHEDULES_EXECUTORS name}.

    A value is a SCHEDULES_EXECUTORS name, APScheduler's ``{"type": "processpool"}`` or one
    of its executor objects: a kind picks the first configured executor of that backend.
    Sizes (``max_workers``) come from SCHEDULES_EXECUTORS, never from here.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SchedulerConfigError(
            f"executors must be a dict, got {value!r}", "executors", value=value
        )
    return {
        str(alias): _map_one(alias, spec, f"executors[{alias!r}]") for alias, spec in value.items()
    }


def _map_one(alias: object, spec: Any, where: str) -> str:
    """One executor as a SCHEDULES_EXECUTORS name; ``where`` names it in a refusal."""
    configured = conf.SCHEDULES_EXECUTORS
    if isinstance(spec, str):
        if spec not in configured:
            raise SchedulerConfigError(
                f"{where} names {spec!r}, which is not in SCHEDULES_EXECUTORS "
                f"(it has {', '.join(map(repr, configured))})",
                "executors",
                value=spec,
            )
        return spec
    kind = _kind(where, spec)
    backend = EXECUTOR_KINDS[kind]
    found = [name for name in configured if backend_kind(name) == backend]
    if not found:
        raise SchedulerConfigError(
            f"{where} asks for a {kind} executor, and SCHEDULES_EXECUTORS "
            f"has no {backend!r} one: add one, such as "
            f'SCHEDULES_EXECUTORS["{alias}"] = {{"BACKEND": "{backend}"}}',
            "executors",
            value=spec,
        )
    return found[0]


def _kind(where: str, spec: Any) -> str:
    if isinstance(spec, Mapping) and spec.get("type") in EXECUTOR_KINDS:
        return str(spec["type"])
    if isinstance(spec, Mapping) and isinstance(spec.get("class"), str):
        # gconfig's {"class": "apscheduler.executors.pool:ProcessPoolExecutor"}
        path = spec["class"].replace(":", ".")
        if path.startswith("apscheduler.") and path.rsplit(".", 1)[-1] in _CLASSES:
            return _CLASSES[path.rsplit(".", 1)[-1]]
    kind = _CLASSES.get(type(spec).__name__)
    if kind is not None and type(spec).__module__.startswith("apscheduler."):
        return kind
    raise SchedulerConfigError(
        f"{where} must be a SCHEDULES_EXECUTORS name, "
        f'{{"type": one of {", ".join(EXECUTOR_KINDS)}}} or an APScheduler executor, '
        f"got {spec!r}",
        "executors",
        value=spec,
    )


def jobstore_aliases(value: Mapping[str, Any] | None) -> frozenset[str]:
    """The job store aliases ``add_job(jobstore=...)`` accepts: ``default`` and those given
    as ``"database"``; any other job store is refused by name."""
    if value is None:
        return frozenset({"default"})
    if not isinstance(value, Mapping):
        raise SchedulerConfigError(
            f"jobstores must be a dict, got {value!r}", "jobstores", value=value
        )
    for alias, store in value.items():
        _check_jobstore(store, f"jobstores[{alias!r}]", 'Remove jobstores= (or give "database")')
    return frozenset({"default", *map(str, value)})


def _check_jobstore(store: Any, where: str, remedy: str) -> None:
    if store == DATABASE or (isinstance(store, Mapping) and store.get("type") == DATABASE):
        return
    described = (
        repr(store.get("type", store.get("class")))
        if isinstance(store, Mapping)
        else repr(store)
        if isinstance(store, str)
        else f"a {type(store).__name__}"
    )
    raise SchedulerConfigError(
        f"{where} is {described}: django-schedules keeps every job in your "
        "Django database (the Schedule table; arguments as JSON, never pickled), so no "
        f"other job store can be used. {remedy}",
        "jobstores",
        value=store,
    )
