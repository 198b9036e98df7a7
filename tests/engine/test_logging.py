"""Logging per the operations issue: one INFO line per firing; lease changes at INFO/WARNING."""

from __future__ import annotations

import logging

import pytest

from django_schedules.clock import ManualClock

from .conftest import RecordingExecutor, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db


def test_each_firing_logs_one_info_line(clock: ManualClock, caplog) -> None:
    interval_schedule("logged", 60)
    caplog.set_level(logging.DEBUG, logger="django_schedules")
    make_scheduler(clock, RecordingExecutor()).tick()
    firing = [r for r in caplog.records if r.getMessage().startswith("firing ")]
    assert len(firing) == 1 and firing[0].levelno == logging.INFO
    text = firing[0].getMessage()
    assert "logged" in text and "2030-01-07T12:00:00+00:00" in text
    assert "0.000 s late" in text and "'default'" in text


def test_taking_and_losing_the_lease_are_logged(clock: ManualClock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="django_schedules")
    scheduler = make_scheduler(clock, RecordingExecutor())
    scheduler.tick()
    scheduler.lease.lost()
    levels = {r.getMessage().split(" the ")[0]: r.levelno for r in caplog.records}
    assert levels["took"] == logging.INFO and levels["lost"] == logging.WARNING
