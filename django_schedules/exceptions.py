"""The exceptions django-schedules raises. Pure Python: importing this imports no Django."""

from __future__ import annotations


class SchedulesError(Exception):
    """The base of every error this package raises; never raised itself."""


class _FieldError(SchedulesError, ValueError):
    """An error about one argument: ``field`` names it as data (None when no single one is at
    fault), so a form puts the error on its field without reading the message."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        value: object = None,
        rule: str | None = None,
        part: str | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        # What a form shows in its own words, when the raiser gives them: the value at fault,
        # the rule it broke, and the part of the argument it was read from (a crontab field).
        self.value = value
        self.rule = rule
        self.part = part


class TriggerError(_FieldError):
    """A trigger's arguments are invalid; the message names the field and the value."""


class ScheduleNotFound(SchedulesError, LookupError):
    """No schedule has the given job id."""


class JobNotRegistered(SchedulesError, LookupError):
    """A callable name is not in the registry, so it may not be scheduled or run."""


class JobAlreadyRegistered(SchedulesError, ValueError):
    """Two different callables were registered under one name."""


class ScheduleExists(SchedulesError, ValueError):
    """A schedule with this job id exists and ``replace_existing`` was not given."""


class InvalidSchedule(_FieldError):
    """An argument of a schedule is invalid; the message names the field and the value."""


class SchedulerConfigError(_FieldError):
    """An argument of a scheduler object (``BackgroundScheduler(...)`` and its kin) is
    invalid or cannot be honoured; the message names it and says what to do instead."""


class SchedulerAlreadyRunningError(SchedulesError, RuntimeError):
    """``start()`` on a scheduler object that is already running (APScheduler's name)."""


class SchedulerNotRunningError(SchedulesError, RuntimeError):
    """``shutdown()``, ``pause()`` or ``resume()`` on a scheduler object that is not running."""


# APScheduler 3's names for the same errors, so ``except`` clauses survive a migration.
ConflictingIdError = ScheduleExists
JobLookupError = ScheduleNotFound
