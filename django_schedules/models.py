"""Where schedules live: one ``Schedule`` row per job, one ``Execution`` per firing, one
``SchedulerLease`` per scheduler group.

Every query the engine and the API run lives in the ``store`` package; this module names the
querysets it builds them from.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from django_schedules.dbclock import DbNow
from django_schedules.triggers import TRIGGER_KINDS


class TriggerKind(models.TextChoices):
    DATE = "date", _("Date (once)")
    INTERVAL = "interval", _("Interval")
    CRON = "cron", _("Cron")
    CALENDAR_INTERVAL = "calendarinterval", _("Calendar interval")
    AND = "and", _("All of (AND)")
    OR = "or", _("Any of (OR)")


class MisfirePolicy(models.TextChoices):
    RUN_ONCE = "run_once", _("Run once for the latest missed occurrence")
    SKIP = "skip", _("Skip missed occurrences")
    RUN_ALL = "run_all", _("Run every missed occurrence")


# A scheduler group's name: runscheduler --group, a scheduler object's group=, Schedule.group.
GROUP_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
GROUP_RULE = "1 to 100 characters among letters, digits, '_', '.', ':' and '-'"


class OverlapPolicy(models.TextChoices):
    """What an occurrence does while a run of its schedule is still going (docs/overlap.md).
    Empty (the default): ``max_instances`` decides, as before overlap policies existed."""

    NONE = "", _("By max instances")
    SKIP = "skip", _("Skip it")
    BUFFER_ONE = "buffer_one", _("Run once more when the running one ends")
    BUFFER_ALL = "buffer_all", _("Queue every occurrence, oldest first")
    CANCEL_RUNNING = "cancel_running", _("Stop the running one and start")
    ALLOW = "allow", _("Start another run")


class ScheduleSource(models.TextChoices):
    CODE = "code", _("Code")
    SETTINGS = "settings", _("Settings")
    ADMIN = "admin", _("Admin")


class ExecutionKind(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    MANUAL = "manual", _("Manual")
    CATCH_UP = "catch_up", _("Catch-up")
    # An operator's backfill of a past range (backfill.backfill_job): like a manual run, it
    # is neither counted by nor refused at a run limit, nor held by an overlap policy.
    BACKFILL = "backfill", _("Backfill")


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    MISSED = "missed", _("Missed")
    SKIPPED = "skipped", _("Skipped")
    LOST = "lost", _("Lost")
    # Waiting for the schedule's running run to end (overlap buffer_one, buffer_all): then
    # it becomes pending, oldest first (store.controls.release_buffered).
    BUFFERED = "buffered", _("Buffered")


FINISHED_STATUSES = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.MISSED,
        ExecutionStatus.SKIPPED,
        ExecutionStatus.LOST,
    }
)


class ScheduleQuerySet(models.QuerySet["Schedule"]):
    def due(self, now: datetime) -> ScheduleQuerySet:
        """Return enabled schedules whose next run is at or before `now`, earliest first."""
        return self.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")

    def upcoming(self) -> ScheduleQuerySet:
        """Return enabled schedules that have a next run, earliest first."""
        return self.filter(enabled=True, next_run_at__isnull=False).order_by("next_run_at")


class ExecutionQuerySet(models.QuerySet["Execution"]):
    def pending(self) -> ExecutionQuerySet:
        return self.filter(status=ExecutionStatus.PENDING)

    def running(self) -> ExecutionQuerySet:
        return self.filter(status=ExecutionStatus.RUNNING)

    def live(self) -> ExecutionQuerySet:
        """Return pending and running executions: those ``max_instances`` counts."""
        return self.filter(status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING])

    def unclaimed(self) -> ExecutionQuerySet:
        """Return pending executions no lease holder stamped: manual runs, and lost runs sent
        back for a re-run."""
        return self.filter(status=ExecutionStatus.PENDING, epoch__isnull=True)

    def orphaned(self, epoch: int, *, own: bool = False) -> ExecutionQuerySet:
        """Return pending executions nobody live dispatches under `epoch`: unclaimed ones and
        those claimed under an older epoch (with `own`, also under `epoch` itself)."""
        stale = Q(epoch__isnull=True) | Q(epoch__lt=epoch)
        if own:
            stale |= Q(epoch=epoch)
        return self.filter(stale, status=ExecutionStatus.PENDING)

    def silent(self, older_than: timedelta) -> ExecutionQuerySet:
        """Return running executions whose heartbeat is older than `older_than`, by the
        database's clock."""
        return self.running().filter(heartbeat_at__lt=DbNow() - older_than)

    def prunable(self, before: datetime) -> ExecutionQuerySet:
        """Return finished executions created before `before`."""
        finished = [status.value for status in FINISHED_STATUSES]
        return self.filter(created_at__lt=before, status__in=finished)


class Schedule(models.Model):
    job_id = models.CharField(
        _("job id"),
        max_length=200,
        unique=True,
        help_text=_("A stable identifier chosen by you, as APScheduler's job id."),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    func = models.CharField(
        _("callable"), max_length=255, help_text=_("The registered name of the job to run.")
    )
    args = models.JSONField(_("positional arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    trigger = models.JSONField(_("trigger"), help_text=_("The trigger's to_dict() form."))
    trigger_kind = models.CharField(_("trigger kind"), max_length=20, choices=TriggerKind.choices)
    executor = models.CharField(_("executor"), max_length=100, default="default")
    misfire_grace_time = models.PositiveIntegerField(
        _("misfire grace time"),
        null=True,
        blank=True,
        default=60,
        help_text=_(
            "Seconds after its fire time within which a late run still starts. "
            "Empty: always start, however late."
        ),
    )
    misfire_policy = models.CharField(
        _("misfire policy"),
        max_length=20,
        choices=MisfirePolicy.choices,
        default=MisfirePolicy.RUN_ONCE,
    )
    max_instances = models.PositiveIntegerField(
        _("max instances"), default=1, help_text=_("How many runs may overlap.")
    )
    overlap = models.CharField(
        _("overlap policy"),
        max_length=20,
        blank=True,
        default=OverlapPolicy.NONE,
        choices=OverlapPolicy.choices,
        help_text=_("When a run is still going at the next occurrence. Empty: max instances."),
    )
    calendars = models.JSONField(
        _("exclusion calendars"),
        default=list,
        blank=True,
        help_text=_("Names of calendars whose days and windows it does not run in."),
    )
    # Occurrences an overlap policy (or max_instances) skipped, and those it buffered.
    overlaps_skipped = models.PositiveIntegerField(_("overlaps skipped"), default=0)
    overlaps_buffered = models.PositiveIntegerField(_("overlaps buffered"), default=0)
    timeout = models.FloatField(
        _("timeout"), null=True, blank=True, help_text=_("Seconds a run may take.")
    )
    max_retries = models.PositiveIntegerField(_("max retries"), default=0)
    retry_delay = models.FloatField(
        _("retry delay"), default=0, help_text=_("Seconds before the first retry; doubles.")
    )
    rerun_lost = models.BooleanField(
        _("re-run lost executions"),
        default=False,
        help_text=_("Run again an execution whose worker died."),
    )
    # Where a `tasks` executor sends this schedule's runs (routing.check_routing): empty and
    # None mean the executor's own queue_name and priority.
    queue = models.CharField(_("queue"), max_length=100, blank=True, default="")
    priority = models.SmallIntegerField(_("priority"), null=True, blank=True)
    max_runs = models.PositiveIntegerField(
        _("run limit"),
        null=True,
        blank=True,
        help_text=_(
            "Stop after this many runs have started: it then pauses itself with the reason. "
            "Empty: no limit."
        ),
    )
    pause_after_failures = models.PositiveIntegerField(
        _("failures before pausing"),
        null=True,
        blank=True,
        help_text=_(
            "After this many failed runs in a row it pauses itself, with the reason. Empty: never."
        ),
    )
    # Its failed runs since the last that succeeded (store.controls.record_outcome).
    failures_in_a_row = models.PositiveIntegerField(_("failures in a row"), default=0)
    # The scheduled runs started so far (manual runs not counted): raised in the transaction
    # that starts a run of a schedule with max_runs, and never past it (store.executions).
    runs_started = models.PositiveIntegerField(_("runs started"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Why a paused schedule is paused (pause_job's reason), and when it resumes by itself
    # (pause_job's until; the leader's upkeep resumes it, store.schedules.resume_expired).
    pause_reason = models.CharField(
        _("pause reason"),
        max_length=500,
        blank=True,
        help_text=_("Why it is paused: shown in the list. Cleared when it resumes."),
    )
    paused_until = models.DateTimeField(
        _("paused until"),
        null=True,
        blank=True,
        help_text=_("It resumes by itself then, from its next occurrence. Empty: until resumed."),
    )
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    next_run_at = models.DateTimeField(_("next run at"), null=True, blank=True)
    version = models.PositiveBigIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    source = models.CharField(
        _("source"), max_length=20, choices=ScheduleSource.choices, default=ScheduleSource.CODE
    )
    # Whose it is, not who fires it: every group's leader fires every schedule. A scheduler
    # object's remove_all_jobs() removes the code-made schedules of its own group only.
    group = models.CharField(
        _("scheduler group"),
        max_length=100,
        blank=True,
        default="",
        help_text=_(
            "The group of the scheduler object that added it in code. Empty: added by the "
            "module functions, the admin or settings."
        ),
    )

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        ordering = ["job_id"]
        permissions = [("run_schedule", _("Can run a schedule now"))]
        indexes = [
            # Serves ScheduleQuerySet.due(), which store.claim.due_queryset() runs in each
            # claim, and ScheduleQuerySet.upcoming(), which store.probe.probe() runs on every
            # tick (tests/store/test_explain.py, tests/engine/test_explain.py). Partial:
            # SQLite compiles enabled=True to a bare WHERE "enabled", which only an index
            # with that same condition serves. MariaDB/MySQL ignore the condition and get a
            # plain next_run_at index, which their planner walks in order (the paused are few).
            models.Index(
                fields=["next_run_at"], condition=Q(enabled=True), name="schedules_due_idx"
            ),
            # Serves store.schedules.expired_pauses(), which the leader's upkeep runs once per
            # third of the lease TTL: the few schedules paused until a given time.
            models.Index(
                fields=["paused_until"],
                condition=Q(paused_until__isnull=False),
                name="schedules_paused_until_idx",
            ),
            # Serves store.controls.paused_after_failures(), which the admin's status panel
            # runs: only the schedules with pause_after_failures (MariaDB/MySQL ignore the
            # condition and get an index on enabled, whose paused rows are few).
            models.Index(
                fields=["enabled"],
                condition=Q(pause_after_failures__isnull=False),
                name="schedules_failing_idx",
            ),
        ]

    def __str__(self) -> str:
        # Two schedules of one job share its name by default: the job id tells them apart.
        if self.name and self.name != self.job_id:
            return f"{self.name} ({self.job_id})"
        return self.job_id

    @property
    def combines_triggers(self) -> bool:
        """Whether its trigger is built from others (AND/OR), as the trigger's class says; the
        admin's form cannot edit such a timing."""
        cls = TRIGGER_KINDS.get(self.trigger_kind)
        return cls is not None and cls.composite


class Calendar(models.Model):
    """An exclusion calendar: days and windows in which the schedules naming it do not run
    (docs/calendars.md). The entries are JSON in the canonical form that
    ``django_schedules.calendars.check_entries`` gives; the planner reads them through it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(
        _("time zone"),
        max_length=63,
        default="UTC",
        help_text=_("The wall clock its days and windows are read in, e.g. Europe/Berlin."),
    )
    dates = models.JSONField(_("single days"), default=list, blank=True)
    ranges = models.JSONField(_("date ranges"), default=list, blank=True)
    weekly = models.JSONField(_("weekly windows"), default=list, blank=True)
    yearly = models.JSONField(_("yearly days"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True, default="")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("exclusion calendar")
        verbose_name_plural = _("exclusion calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def entries(self) -> dict[str, object]:
        """The entries as ``calendars.from_entries`` reads them."""
        return {
            "timezone": self.timezone,
            "dates": self.dates,
            "ranges": self.ranges,
            "weekly": self.weekly,
            "yearly": self.yearly,
        }


class Execution(models.Model):
    schedule = models.ForeignKey(
        Schedule,
        verbose_name=_("schedule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
    )
    job_id = models.CharField(_("job id"), max_length=200)
    name = models.CharField(_("name"), max_length=200, blank=True)
    func = models.CharField(_("callable"), max_length=255, blank=True)
    # The call as it was claimed: a run never reads its arguments from the schedule, which
    # can be edited or deleted between the claim and the run (docs/guarantees.md).
    args = models.JSONField(_("positional arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    fire_time = models.DateTimeField(_("fire time"), help_text=_("The nominal occurrence."))
    run_at = models.DateTimeField(
        _("run at"), null=True, blank=True, help_text=_("Fire time plus jitter.")
    )
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=ExecutionKind.choices,
        default=ExecutionKind.SCHEDULED,
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ExecutionStatus.choices,
        default=ExecutionStatus.PENDING,
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    run_number = models.PositiveIntegerField(
        _("run number"),
        null=True,
        blank=True,
        help_text=_("Which run of a schedule with a run limit this was (1 for the first)."),
    )
    executor = models.CharField(_("executor"), max_length=100, blank=True)
    epoch = models.PositiveBigIntegerField(
        _("lease epoch"), null=True, blank=True, help_text=_("The lease epoch it was claimed in.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat at"), null=True, blank=True)
    duration = models.DurationField(_("duration"), null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=255, blank=True)
    result = models.TextField(_("result"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        verbose_name = _("execution")
        verbose_name_plural = _("executions")
        ordering = ["-fire_time", "-id"]
        constraints = [
            # The database, not the code, guarantees one record per occurrence.
            models.UniqueConstraint(
                fields=["schedule", "fire_time"], name="schedules_one_execution_per_fire"
            ),
        ]
        indexes = [
            # Serves ExecutionQuerySet.running() and silent(): store.executions.mark_lost(),
            # heartbeat() and time_out_overdue().
            models.Index(fields=["status", "heartbeat_at"], name="schedules_exec_status_idx"),
            # Serves ExecutionQuerySet.unclaimed() in store.probe.probe() (manual runs
            # waiting: pending, epoch NULL) and orphaned() in store.executions.adopt_pending()
            # (pending rows of an earlier lease holder).
            models.Index(fields=["status", "epoch"], name="schedules_exec_pending_idx"),
            # Serves ExecutionQuerySet.prunable(): store.ops.prune_executions().
            models.Index(fields=["created_at"], name="schedules_exec_created_idx"),
            # Serves the admin's execution list: its default order (newest first), the same
            # read backwards, its status/kind filters and deep pages walk this index instead
            # of sorting a million rows (benchmarks/scale.py).
            models.Index(fields=["-fire_time", "-id"], name="schedules_exec_fire_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} @ {self.fire_time:%Y-%m-%d %H:%M:%S} UTC"


class SchedulerLease(models.Model):
    group = models.CharField(_("group"), max_length=100, unique=True)
    owner = models.CharField(_("owner"), max_length=255, blank=True)
    epoch = models.PositiveBigIntegerField(
        _("epoch"), default=0, help_text=_("Fencing number; grows with each new holder.")
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    acquired_at = models.DateTimeField(_("acquired at"), null=True, blank=True)
    renewed_at = models.DateTimeField(_("renewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduler lease")
        verbose_name_plural = _("scheduler leases")

    def __str__(self) -> str:
        return f"{self.group} ({self.owner or 'free'})"


class ProcessRole(models.TextChoices):
    LEADER = "leader", _("Leader")
    STANDBY = "standby", _("Standby")


class SchedulerProcess(models.Model):
    """One running scheduler process, leader or standby, as it last reported itself.

    Each process refreshes its row every third of the lease TTL; a row not refreshed for
    several TTLs belongs to a dead process and is deleted by the next live one.
    """

    group = models.CharField(_("group"), max_length=100)
    owner = models.CharField(
        _("owner"), max_length=255, unique=True, help_text=_("host:pid:tag, as in the lease.")
    )
    host = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("pid"))
    version = models.CharField(_("version"), max_length=50)
    role = models.CharField(_("role"), max_length=20, choices=ProcessRole.choices)
    started_at = models.DateTimeField(_("started at"))
    heartbeat_at = models.DateTimeField(
        _("last heartbeat"), help_text=_("By the database's clock.")
    )
    last_tick_at = models.DateTimeField(_("last tick"), null=True, blank=True)
    fired_last_minute = models.PositiveIntegerField(_("fired in the last minute"), default=0)
    lag = models.FloatField(
        _("lag"),
        null=True,
        blank=True,
        help_text=_("Seconds between now and the oldest due next run (the leader's view)."),
    )

    class Meta:
        verbose_name = _("scheduler process")
        verbose_name_plural = _("scheduler processes")
        indexes = [
            # Serves store.ops.expire_processes() (silent processes) and the group's rows in
            # store.ops.scheduler_status().
            models.Index(fields=["group", "heartbeat_at"], name="schedules_process_beat_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.group}: {self.owner} ({self.role})"


class MetricCounter(models.Model):
    """One Prometheus counter value (or histogram bucket) of the group, kept as runs finish.

    Incremented by ``store.metrics.add_counts`` inside the transaction that finishes the
    runs, so it is right whichever process ran them and never goes down when executions are
    pruned (docs/metrics.md). ``metric`` names the family, ``label`` the series within it (a
    status, or a histogram's bucket bound ``le`` / ``sum``).
    """

    metric = models.CharField(_("metric"), max_length=50)
    label = models.CharField(_("label"), max_length=50)
    value = models.FloatField(_("value"), default=0.0)

    objects: models.Manager[MetricCounter] = models.Manager()

    class Meta:
        verbose_name = _("metric counter")
        verbose_name_plural = _("metric counters")
        constraints = [
            models.UniqueConstraint(fields=["metric", "label"], name="schedules_metric_key"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}{{{self.label}}} = {self.value:g}"
