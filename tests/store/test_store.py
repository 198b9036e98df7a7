from __future__ import annotations

import pytest
from django.db import connection, connections

from django_schedules import add_job, modify_job, pause_job
from django_schedules.store import NOTIFY_CHANNEL, notify_change, write_transaction
from tests.testapp import jobs


@pytest.mark.django_db(transaction=True)
def test_write_transaction_begins_immediate_on_sqlite() -> None:
    if connection.vendor != "sqlite":
        with write_transaction() as alias:
            assert alias == "default" and connection.in_atomic_block
        return
    wrapper = connections["default"]
    wrapper.ensure_connection()
    configured = wrapper.transaction_mode
    wrapper.transaction_mode = None  # as if the alias said nothing: DEFERRED
    try:
        with write_transaction():
            assert wrapper.transaction_mode == "IMMEDIATE"
            assert wrapper.in_atomic_block
        assert wrapper.transaction_mode is None  # put back afterwards
    finally:
        wrapper.transaction_mode = configured


@pytest.mark.django_db
def test_write_transaction_is_a_savepoint_inside_an_outer_transaction() -> None:
    assert connection.in_atomic_block  # the test's own transaction
    with write_transaction():
        assert len(connection.savepoint_ids) >= 1


@pytest.mark.django_db(transaction=True)
def test_each_change_notifies_a_listening_scheduler_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        with write_transaction():
            notify_change()  # nothing to do elsewhere, and no error
        return
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        add_job(jobs.noop, "interval", hours=1, id="n")
        modify_job("n", name="renamed")
        pause_job("n")
        got = [n.channel for n in listener.notifies(timeout=2, stop_after=3)]
    assert got == [NOTIFY_CHANNEL] * 3


@pytest.mark.django_db(transaction=True)
def test_racing_adds_of_one_id_create_it_once() -> None:
    import threading

    from django.db import close_old_connections

    from django_schedules.exceptions import ScheduleExists
    from django_schedules.models import Schedule

    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def add() -> None:
        try:
            barrier.wait(timeout=10)
            add_job(jobs.noop, "interval", hours=1, id="raced")
            outcomes.append("added")
        except ScheduleExists:
            outcomes.append("exists")
        finally:
            close_old_connections()
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["added"] + ["exists"] * 5
    assert Schedule.objects.filter(job_id="raced").count() == 1
