"""The loop keeps its database connection across ticks, and reconnects after an error."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created

from django_schedules import scheduler as scheduler_module
from django_schedules.scheduler import BackgroundScheduler, _Waker
from tests.polling import wait_until

from .conftest import RecordingExecutor

make_waker = scheduler_module._make_waker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Counting:
    def __init__(self) -> None:
        self.opened = 0
        self.ticks = 0

    def on_connect(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "schedules-loop":
            self.opened += 1


def run_ticks(bg: BackgroundScheduler, counting: Counting, ticks: int, fail_at: int = -1) -> None:
    scheduler = bg.scheduler
    # Poll every pass: PostgreSQL's LISTEN waker would let the idle loop sleep to its upkeep.
    scheduler_module._make_waker = lambda using, stop: _Waker(stop)  # type: ignore[assignment]
    tick = scheduler.tick

    def counted() -> float:
        counting.ticks += 1
        if counting.ticks == fail_at:
            # As a database restart looks: the connection is broken under the loop.
            connections[scheduler.using].close()
            raise DatabaseError("server closed the connection unexpectedly")
        return tick()

    scheduler.tick = counted  # type: ignore[method-assign]
    bg.start()
    try:
        wait_until(
            lambda: counting.ticks >= ticks, timeout=60, interval=0.02, message=f"{ticks} ticks"
        )
    finally:
        bg.shutdown()
        scheduler_module._make_waker = make_waker


def test_the_loop_keeps_one_connection_across_ticks() -> None:
    counting = Counting()
    connection_created.connect(counting.on_connect)
    try:
        bg = BackgroundScheduler(executors={"default": RecordingExecutor()}, poll_interval=0.02)
        run_ticks(bg, counting, 30)
    finally:
        connection_created.disconnect(counting.on_connect)
    assert counting.opened == 1, counting.opened


def test_after_a_database_error_it_reconnects_and_goes_on() -> None:
    counting = Counting()
    connection_created.connect(counting.on_connect)
    try:
        bg = BackgroundScheduler(executors={"default": RecordingExecutor()}, poll_interval=0.02)
        run_ticks(bg, counting, 20, fail_at=5)
    finally:
        connection_created.disconnect(counting.on_connect)
    assert counting.opened == 2, counting.opened
