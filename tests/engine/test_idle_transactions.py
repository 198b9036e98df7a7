"""A scheduler frozen inside its claim transaction must not hold the lease row's lock for as
long as it is frozen: the server ends such a transaction (store.abort_idle_transactions).
tests/kills/test_leader_killed_while_claiming.py freezes a real leader there."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from django_schedules import store


def idle_timeout() -> str | None:
    """The session's idle-in-transaction timeout as the server reports it, or None."""
    if connection.vendor == "postgresql":
        sql = "SHOW idle_in_transaction_session_timeout"
    elif connection.vendor == "mysql" and connection.mysql_is_mariadb:
        sql = "SELECT @@SESSION.idle_transaction_timeout"
    else:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return str(cursor.fetchone()[0])


EXPECTED = {"postgresql": "3s", "mysql": "3"}
UNSET = {"postgresql": "0", "mysql": "0"}


@pytest.mark.django_db(transaction=True)
def test_the_loop_thread_s_connections_abort_transactions_left_idle() -> None:
    if connection.vendor not in EXPECTED:
        pytest.skip(f"{connection.vendor} has no idle-in-transaction timeout")
    connection.ensure_connection()
    stop = store.abort_idle_transactions("default", 3.0)
    try:
        assert idle_timeout() == EXPECTED[connection.vendor]  # the open connection
        connection.close()
        assert idle_timeout() == EXPECTED[connection.vendor]  # and each one opened later

        seen: list[str | None] = []

        def elsewhere() -> None:  # another thread's connections (a job's) are left alone
            try:
                seen.append(idle_timeout())
            finally:
                connections.close_all()

        other = threading.Thread(target=elsewhere)
        other.start()
        other.join()
        assert seen == [UNSET[connection.vendor]]
    finally:
        stop()
    connection.close()
    assert idle_timeout() == UNSET[connection.vendor]  # stopped: new connections as before


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_nothing_is_set() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: its lock is the file's, no server to end a transaction")
    with CaptureQueriesContext(connection) as captured:
        stop = store.abort_idle_transactions("default", 3.0)
        connection.close()
        connection.ensure_connection()
        stop()
    assert captured.captured_queries == []  # no statement was sent
