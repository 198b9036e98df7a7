"""``BaseScheduler``: APScheduler 3's scheduler methods on an object, over ``api.py``.

Each job method checks what only the object knows (its job store aliases, executor aliases,
time zone and job defaults) and hands the call to the function of the same name in
``django_schedules.api``, which validates, writes and announces it; nothing here writes a
schedule. The loop is the engine's ``Scheduler``: every copy, in any scheduler kind, takes
part in its group's lease, so one of them leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

from django_schedules import api, store, triggers
from django_schedules.conf import conf
from django_schedules.exceptions import (
    JobNotRegistered,
    ScheduleNotFound,
    SchedulerAlreadyRunningError,
    SchedulerConfigError,
    SchedulerNotRunningError,
)
from django_schedules.models import Schedule, ScheduleSource
from django_schedules.options import UNSET, _Unset
from django_schedules.registry import RegisteredJob, lookup, register
from django_schedules.routing import IN_PROCESS, backend_kind, check_script_job
from django_schedules.schedulers import config
from django_schedules.schedulers.events import (
    EVENT_ALL,
    EVENT_ALL_JOBS_REMOVED,
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOB_SUBMITTED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
    JobSubmissionEvent,
    Listener,
    Listeners,
    SchedulerEvent,
    execution_event,
    schedule_event,
)

if TYPE_CHECKING:
    from django_schedules.triggers import BaseTrigger

logger = logging.getLogger("django_schedules.schedulers")

F = TypeVar("F", bound=Callable[..., Any])

# APScheduler 3's states, with its values.
STATE_STOPPED = 0
STATE_RUNNING = 1
STATE_PAUSED = 2

# The engine's own options, passed through to django_schedules.scheduler.Scheduler.
ENGINE_OPTIONS = ("group", "poll_interval", "lease_ttl", "using", "shutdown_grace")


class BaseScheduler:
    """What every scheduler object shares; subclasses say how the loop runs.

    ``timezone``: naive dates and triggers given by name without ``timezone=`` are read in it
    (default: ``TIME_ZONE``). ``job_defaults``: ``misfire_grace_time``, ``coalesce``,
    ``max_instances`` for ``add_job`` calls that leave them out. ``executors``: alias ->
    ``SCHEDULES_EXECUTORS`` name (or an APScheduler executor kind). ``jobstores``: the
    database only. ``group``, ``poll_interval``, ``lease_ttl``, ``using``,
    ``shutdown_grace``: the engine's (docs/scheduler.md); ``group`` is also what ``add_job``
    files schedules under, for ``remove_all_jobs``. ``gconfig``: APScheduler's dotted
    ``"apscheduler.*"`` keys, read as ``configure()`` reads them.
    """

    def __init__(self, gconfig: Mapping[str, Any] | None = None, **options: Any) -> None:
        self._state = STATE_STOPPED
        self._lock = threading.RLock()
        self._listeners = Listeners()
        self._apply(gconfig, "apscheduler.", options)

    def configure(
        self, gconfig: Mapping[str, Any] | None = None, prefix: str = "apscheduler.", **options: Any
    ) -> None:
        """APScheduler 3's ``configure``: set the constructor's options anew (those left out
        take their defaults, as in APScheduler), from ``gconfig``'s keys that start with
        ``prefix`` (``"apscheduler.job_defaults.coalesce": "false"``, dotted keys nest) and
        from ``options``, which win. Each is checked as the constructor checks it, and
        nothing changes when one is refused. Only while stopped: SchedulerAlreadyRunningError
        otherwise."""
        with self._lock:
            if self._state != STATE_STOPPED:
                raise SchedulerAlreadyRunningError(
                    f"the {type(self).__name__} is running: configure() only while stopped "
                    "(shut it down first)"
                )
            own = [name for name in self._own_options().split(", ") if name in options]
            if own:
                raise SchedulerConfigError(
                    f"configure() does not take {', '.join(own)}: give it to "
                    f"{type(self).__name__}() when you construct it",
                    own[0],
                )
            self._apply(gconfig, prefix, options)

    def _apply(self, gconfig: Mapping[str, Any] | None, prefix: str, given: Any) -> None:
        """Check every option, then set them all and build the loop: nothing half-set."""
        options = {**config.from_gconfig(gconfig, prefix), **given}
        taken = {"timezone", "job_defaults", "executors", "jobstores", "logger", *ENGINE_OPTIONS}
        unknown = sorted(set(options) - taken)
        if unknown:
            raise SchedulerConfigError(
                f"{type(self).__name__}() does not take {', '.join(unknown)}; it takes "
                f"timezone, job_defaults, executors, jobstores, "
                f"{', '.join(ENGINE_OPTIONS)}{self._own_options()}",
                unknown[0],
            )
        timezone = config.zone_name(options.get("timezone"))
        job_defaults = config.job_defaults(options.get("job_defaults"))
        executor_aliases = config.executor_map(options.get("executors"))
        jobstores = config.jobstore_aliases(options.get("jobstores"))
        engine_options = {k: v for k, v in options.items() if k in ENGINE_OPTIONS}
        group = config.group_name(engine_options.setdefault("group", "default"))
        self.timezone, self.job_defaults = timezone, job_defaults
        self.executor_aliases, self.jobstores = executor_aliases, jobstores
        self.group, self._engine_options = group, engine_options
        self._logger = options.get("logger") or logger
        self._build_engine()

    def add_executor(self, executor: Any, alias: str = "default", **executor_opts: Any) -> None:
        """APScheduler 3's ``add_executor``: ``alias`` now names ``executor`` (a
        SCHEDULES_EXECUTORS name, an APScheduler kind such as ``"processpool"``, or one of its
        executor objects), mapped as the constructor's ``executors`` are. Pool sizes are set
        in SCHEDULES_EXECUTORS, so ``executor_opts`` are refused; so is an alias in use."""
        with self._lock:
            if alias in self.executor_aliases:
                raise SchedulerConfigError(
                    f"this scheduler already has an executor by the alias of {alias!r}",
                    "alias",
                    value=alias,
                )
            where = f"add_executor(..., alias={alias!r})"
            mapped = config.add_executor(executor, alias, executor_opts, where)
            self.executor_aliases = {**self.executor_aliases, alias: mapped}
        self._dispatch(SchedulerEvent(EVENT_EXECUTOR_ADDED, alias=alias))

    def add_jobstore(self, jobstore: Any, alias: str = "default", **jobstore_opts: Any) -> None:
        """APScheduler 3's ``add_jobstore``: only the database (``"database"``), whose jobs
        are the Schedule table; any other job store, and any option, is refused by name."""
        with self._lock:
            if alias in self.jobstores and alias != "default":
                raise SchedulerConfigError(
                    f"this scheduler already has a job store by the alias of {alias!r}",
                    "alias",
                    value=alias,
                )
            where = f"add_jobstore(..., alias={alias!r})"
            config.add_jobstore(jobstore, jobstore_opts, where)
            self.jobstores = self.jobstores | {alias}
        self._dispatch(SchedulerEvent(EVENT_JOBSTORE_ADDED, alias=alias))

    def remove_executor(self, alias: str, shutdown: bool = True) -> None:
        """APScheduler 3's ``remove_executor``: forget the alias (KeyError when unknown).
        Its SCHEDULES_EXECUTORS executor belongs to the settings, so it is not shut down
        and the schedules already on it keep running there; ``shutdown`` is accepted for
        APScheduler's signature."""
        with self._lock:
            if alias not in self.executor_aliases:
                raise KeyError(f"no executor by the alias of {alias!r}")
            self.executor_aliases = {
                name: mapped for name, mapped in self.executor_aliases.items() if name != alias
            }
        self._dispatch(SchedulerEvent(EVENT_EXECUTOR_REMOVED, alias=alias))

    def remove_jobstore(self, alias: str, shutdown: bool = True) -> None:
        """APScheduler 3's ``remove_jobstore``: forget an alias added by ``add_jobstore``
        (KeyError when unknown). The database itself (``"default"``) cannot be removed:
        every job lives there."""
        with self._lock:
            if alias == "default":
                raise SchedulerConfigError(
                    "the job store 'default' is the database, where every job lives: it "
                    "cannot be removed",
                    "alias",
                    value=alias,
                )
            if alias not in self.jobstores:
                raise KeyError(f"no job store by the alias of {alias!r}")
            self.jobstores = self.jobstores - {alias}
        self._dispatch(SchedulerEvent(EVENT_JOBSTORE_REMOVED, alias=alias))

    def _own_options(self) -> str:
        """The constructor's own keywords, for the unknown-option message."""
        return ""

    # State.

    @property
    def state(self) -> int:
        """``STATE_STOPPED`` (0), ``STATE_RUNNING`` (1) or ``STATE_PAUSED`` (2)."""
        return self._state

    @property
    def running(self) -> bool:
        """True when started and not shut down (paused included, as in APScheduler)."""
        return self._state != STATE_STOPPED

    def start(self, paused: bool = False) -> None:
        """Start the loop (not when ``paused``: ``resume()`` starts it). Raises
        SchedulerAlreadyRunningError when running."""
        with self._lock:
            if self._state != STATE_STOPPED:
                raise SchedulerAlreadyRunningError(f"the {type(self).__name__} is already running")
            self._check_runtime()
            self._state = STATE_PAUSED if paused else STATE_RUNNING
            if not paused:
                self._start_engine()
        self._dispatch(SchedulerEvent(EVENT_SCHEDULER_STARTED))

    def shutdown(self, wait: bool = True) -> None:
        """Stop the loop: it releases the lease (a standby takes over at once) and, with
        ``wait``, returns once running jobs ended (up to ``SCHEDULES_SHUTDOWN_GRACE``)."""
        with self._lock:
            if self._state == STATE_STOPPED:
                raise SchedulerNotRunningError(f"the {type(self).__name__} is not running")
            self._state = STATE_STOPPED
            self._stop_engine(wait)
        self._dispatch(SchedulerEvent(EVENT_SCHEDULER_SHUTDOWN))

    def pause(self) -> None:
        """Stop processing jobs until ``resume()``: the loop stops and gives up the lease, so
        another copy in the group can lead meanwhile; running jobs finish (up to
        ``SCHEDULES_SHUTDOWN_GRACE``) before it returns."""
        with self._lock:
            if self._state == STATE_STOPPED:
                raise SchedulerNotRunningError(f"the {type(self).__name__} is not running")
            if self._state == STATE_PAUSED:
                return
            self._state = STATE_PAUSED
            self._stop_engine(True)
        self._dispatch(SchedulerEvent(EVENT_SCHEDULER_PAUSED))

    def resume(self) -> None:
        """Start processing jobs again after ``pause()`` (or ``start(paused=True)``)."""
        with self._lock:
            if self._state == STATE_STOPPED:
                raise SchedulerNotRunningError(f"the {type(self).__name__} is not running")
            if self._state == STATE_RUNNING:
                return
            self._state = STATE_RUNNING
            self._start_engine()
        self._dispatch(SchedulerEvent(EVENT_SCHEDULER_RESUMED))

    # What a kind of scheduler provides.

    def _check_runtime(self) -> None:
        """Raise ImportError when the runtime this kind needs is missing."""

    def _build_engine(self) -> None:
        """Build the loop from ``self._engine_options`` (construction, ``configure()``)."""

    def _start_engine(self) -> None:
        raise NotImplementedError

    def _stop_engine(self, wait: bool) -> None:
        raise NotImplementedError

    # Jobs: each method hands over to api.py's function of the same name.

    def add_job(
        self,
        func: Any,
        trigger: BaseTrigger | str | None = None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: int | _Unset | None = UNSET,
        coalesce: bool | _Unset = UNSET,
        max_instances: int | _Unset = UNSET,
        next_run_time: Any = UNSET,
        jobstore: str = "default",
        executor: str = "default",
        replace_existing: bool = False,
        **trigger_args: Any,
    ) -> Schedule:
        """``api.add_job`` with this object's time zone, job defaults and executor aliases.

        ``func`` must be registered (``@job``); ``run_date``, ``start_date``, ``end_date`` and
        ``next_run_time`` may be a date, a datetime or an ISO string, a naive one read in the
        scheduler's ``timezone``."""
        self._check_jobstore(jobstore)
        if "group" in trigger_args:
            raise SchedulerConfigError(
                f"add_job files the schedule under this scheduler's group ({self.group!r}), "
                f"got group={trigger_args['group']!r}: give group= to the scheduler's "
                "constructor, or call django_schedules.add_job",
                "group",
                value=trigger_args["group"],
            )
        job = self._registered(func)
        given = {
            "misfire_grace_time": misfire_grace_time,
            "coalesce": coalesce,
            "max_instances": max_instances,
        }
        defaults: dict[str, Any] = {
            k: self.job_defaults.get(k, v) if v is UNSET else v for k, v in given.items()
        }
        return api.add_job(
            func,
            trigger,
            args,
            kwargs,
            id,
            name,
            next_run_time=next_run_time,
            executor=self._executor(executor, job),
            replace_existing=replace_existing,
            group=self.group,
            **defaults,
            **self._zoned(trigger, trigger_args),
        )

    def scheduled_job(
        self,
        trigger: BaseTrigger | str | None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: int | _Unset | None = UNSET,
        coalesce: bool | _Unset = UNSET,
        max_instances: int | _Unset = UNSET,
        next_run_time: Any = UNSET,
        jobstore: str = "default",
        executor: str = "default",
        **trigger_args: Any,
    ) -> Callable[[F], F]:
        """Decorate a function to schedule it as ``add_job`` does. Decorating is registering:
        an undecorated function is registered as ``@job`` would (``module.qualname``); the
        schedule replaces one of the same id, so a script run twice keeps one."""

        def decorator(func: F) -> F:
            try:
                lookup(func)
            except JobNotRegistered:
                register(func)
            self.add_job(
                func,
                trigger,
                args,
                kwargs,
                id,
                name,
                misfire_grace_time,
                coalesce,
                max_instances,
                next_run_time,
                jobstore,
                executor,
                replace_existing=id is not None,
                **trigger_args,
            )
            return func

        return decorator

    def get_job(self, job_id: str, jobstore: str | None = None) -> Schedule | None:
        self._check_jobstore(jobstore)
        return api.get_job(job_id)

    def get_jobs(self, jobstore: str | None = None, pending: bool | None = None) -> list[Schedule]:
        self._check_jobstore(jobstore)
        return api.get_jobs()

    def modify_job(self, job_id: str, jobstore: str | None = None, **changes: Any) -> Schedule:
        """``api.modify_job`` with this object's executor aliases. A new ``executor`` or
        ``func`` is checked against the script-job rule, as ``add_job`` checks it: a job
        defined in a script (``__main__``) runs only on an in-process executor (``"default"``
        then means the thread pool), and another is refused, writing nothing."""
        self._check_jobstore(jobstore)
        executor = changes.get("executor")
        current = api.get_job(job_id) if {"executor", "func"} & set(changes) else None
        # None: no such schedule or callable; api.modify_job refuses it, naming which.
        job = None if current is None else _lookup(changes.get("func", current.func))
        if "executor" in changes and isinstance(executor, str):
            changes["executor"] = (
                self.executor_aliases.get(executor, executor)
                if job is None
                else self._executor(executor, job)
            )
        elif job is not None and current is not None:  # a new func, on the executor it has
            name = self._executor(current.executor, job, alias=False)
            if name != current.executor:
                changes["executor"] = name
        return api.modify_job(job_id, **changes)

    def reschedule_job(
        self,
        job_id: str,
        jobstore: str | None = None,
        trigger: BaseTrigger | str | None = None,
        **trigger_args: Any,
    ) -> Schedule:
        self._check_jobstore(jobstore)
        return api.reschedule_job(job_id, None, trigger, **self._zoned(trigger, trigger_args))

    def pause_job(self, job_id: str, jobstore: str | None = None) -> Schedule:
        self._check_jobstore(jobstore)
        return api.pause_job(job_id)

    def resume_job(self, job_id: str, jobstore: str | None = None) -> Schedule:
        self._check_jobstore(jobstore)
        return api.resume_job(job_id)

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        self._check_jobstore(jobstore)
        api.remove_job(job_id)

    def remove_all_jobs(
        self, jobstore: str | None = None, *, include_admin: bool = False
    ) -> list[str]:
        """Remove the schedules this scheduler's group made in code (``add_job``,
        ``scheduled_job`` on an object of the group); with ``include_admin``, those made in
        the admin too. Never those of another group, of the module functions (no group) or
        of ``SCHEDULES_JOBS`` (``syncschedules`` owns them). Return the removed job ids, and
        log them with what was kept and why."""
        self._check_jobstore(jobstore)
        if not isinstance(include_admin, bool):
            raise SchedulerConfigError(
                f"include_admin must be True or False, got {include_admin!r}",
                "include_admin",
                value=include_admin,
            )
        removed: list[str] = []
        kept: dict[str, int] = {}
        for job_id, source, group in store.schedule_owners():
            ours = source == ScheduleSource.CODE and group == self.group
            if not (ours or (include_admin and source == ScheduleSource.ADMIN)):
                why = _owner(source, group)
                kept[why] = kept.get(why, 0) + 1
                continue
            try:
                api.remove_job(job_id)
            except ScheduleNotFound:
                continue  # removed meanwhile (another copy, the admin)
            removed.append(job_id)
        self._logger.info(
            "remove_all_jobs (group %r%s) removed %d schedule(s)%s%s",
            self.group,
            ", admin's too" if include_admin else "",
            len(removed),
            f": {', '.join(removed)}" if removed else "",
            "".join(f"; kept {n} {why}" for why, n in sorted(kept.items())),
        )
        self._dispatch(SchedulerEvent(EVENT_ALL_JOBS_REMOVED, alias=jobstore))
        return removed

    def print_jobs(self, jobstore: str | None = None, out: IO[str] | None = None) -> None:
        self._check_jobstore(jobstore)
        api.print_jobs(out=out)

    # Listeners.

    def add_listener(self, callback: Listener, mask: int = EVENT_ALL) -> None:
        """Call ``callback(event)`` for the events in ``mask`` (``events.EVENT_*``): the
        scheduler's own, and our signals as sent in this process (a schedule changed here, a
        run that started or ended here). docs/schedulers.md lists which codes map."""
        with self._lock:
            first = not self._listeners
            self._listeners.add(callback, mask)
            if first:
                self._connect_signals()

    def remove_listener(self, callback: Listener) -> None:
        with self._lock:
            self._listeners.remove(callback)
            if not self._listeners:
                self._disconnect_signals()

    def _dispatch(self, event: SchedulerEvent) -> None:
        self._listeners.dispatch(event)

    def _signal_receivers(self) -> list[tuple[Any, Callable[..., None]]]:
        from django_schedules import signals

        def changed(*, action: str, job_id: str, **_: Any) -> None:
            event = schedule_event(action, job_id)
            if event is not None:
                self._dispatch(event)

        def started(*, execution: Any, **_: Any) -> None:
            self._dispatch(
                JobSubmissionEvent(
                    EVENT_JOB_SUBMITTED,
                    job_id=execution.job_id,
                    scheduled_run_times=(execution.fire_time,),
                )
            )

        def finished(*, execution: Any, **_: Any) -> None:
            if execution.status == "succeeded":
                self._dispatch(execution_event(execution, failed=False))

        def failed(*, execution: Any, **_: Any) -> None:
            self._dispatch(execution_event(execution, failed=True))

        return [
            (signals.schedule_changed, changed),
            (signals.execution_started, started),
            (signals.execution_finished, finished),
            (signals.execution_failed, failed),
        ]

    def _connect_signals(self) -> None:
        for signal, receiver in self._signal_receivers():
            signal.connect(receiver, weak=False, dispatch_uid=(id(self), receiver.__name__))

    def _disconnect_signals(self) -> None:
        for signal, receiver in self._signal_receivers():
            signal.disconnect(dispatch_uid=(id(self), receiver.__name__))

    # Translation.

    def _check_jobstore(self, jobstore: str | None) -> None:
        if jobstore is not None and jobstore not in self.jobstores:
            raise SchedulerConfigError(
                f"jobstore={jobstore!r} is not a job store of this scheduler: every job lives "
                f"in the database (jobstore 'default'); leave jobstore out",
                "jobstore",
                value=jobstore,
            )

    def _registered(self, func: Any) -> RegisteredJob:
        """The registry entry of ``func``, or JobNotRegistered saying what to add."""
        try:
            return lookup(func)
        except JobNotRegistered as exc:
            if isinstance(func, str) or not callable(func):
                raise
            qualname = getattr(func, "__qualname__", repr(func))
            module = getattr(func, "__module__", "?")
            raise JobNotRegistered(
                f"{qualname!r} (in {module}) is not registered, and only registered callables "
                f"are scheduled: add `from django_schedules import job` and put `@job` on the "
                f"line above `def {qualname.rsplit('.', 1)[-1]}`"
            ) from exc

    def _executor(self, executor: str, job: RegisteredJob, *, alias: bool = True) -> str:
        """The SCHEDULES_EXECUTORS name for ``executor`` (an alias of this object, or with
        ``alias=False`` a name as stored); a job defined in a script runs on an in-process
        executor (``"default"`` then means the first thread pool) or is refused."""
        name = self.executor_aliases.get(executor, executor) if alias else executor
        script = job.name.startswith("__main__.")
        if script and executor == "default" and backend_kind(name) not in IN_PROCESS:
            local = [n for n in conf.SCHEDULES_EXECUTORS if backend_kind(n) == "threadpool"]
            if local:
                return local[0]  # a script's job defaults to the thread pool
        check_script_job(job.name, name, given=executor)
        return name

    def _zoned(self, trigger: Any, trigger_args: Mapping[str, Any]) -> dict[str, Any]:
        """``trigger_args`` with the scheduler's zone when a zoned trigger is named without
        one (APScheduler: a trigger takes its scheduler's zone)."""
        args = dict(trigger_args)
        kind = "date" if trigger is None else trigger
        cls = triggers.TRIGGER_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is not None and cls.zoned and args.get("timezone") is None:
            args["timezone"] = self.timezone
        return args


def _lookup(func: Any) -> RegisteredJob | None:
    """The registry entry of ``func``; None when it has none (api.modify_job refuses it)."""
    try:
        return lookup(func)
    except JobNotRegistered:
        return None


def _owner(source: str, group: str) -> str:
    """Who made a schedule that ``remove_all_jobs`` keeps, for its log line."""
    if source != ScheduleSource.CODE:
        return f"from {source}"
    return f"of group {group!r}" if group else "made by the module functions (no group)"
