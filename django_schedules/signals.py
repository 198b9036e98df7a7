"""Signals a project can hook for alerting (what APScheduler calls event listeners).

Each is sent after the change it reports has been committed, so a receiver never sees a change
that was rolled back. Receivers get keyword arguments:

- ``schedule_changed(sender=Schedule, schedule, job_id, action)``: ``action`` is one of
  ``"added"``, ``"modified"``, ``"rescheduled"``, ``"paused"``, ``"resumed"``, ``"removed"``,
  ``"run_now"``, ``"backfill"``, ``"synced"``, ``"paused_after_failures"`` (a run's failure
  paused it: ``pause_after_failures``). After ``"removed"`` the ``schedule`` instance no longer
  has a row.
- ``execution_started(sender=Execution, execution)``: a run began (status running).
- ``execution_finished(sender=Execution, execution)``: a run ended, whatever its status.
- ``execution_failed(sender=Execution, execution)``: a run ended with status failed or lost;
  sent after ``execution_finished``.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["execution_failed", "execution_finished", "execution_started", "schedule_changed"]

schedule_changed = Signal()
execution_started = Signal()
execution_finished = Signal()
execution_failed = Signal()
