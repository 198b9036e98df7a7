"""The one way tests wait: poll a predicate until it holds, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str = "the condition",
) -> T:
    """Return `predicate()`'s first truthy value; after `timeout` seconds, raise an
    AssertionError naming `message` and the last value seen."""
    deadline = time.monotonic() + timeout
    while not (value := _polled(predicate)):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message}; last value: {value!r}"
            )
        time.sleep(interval)
    return value


def _polled(predicate: Callable[[], T]) -> T | _Locked:
    """`predicate()`, or a falsy note when SQLite's file lock outlasted the busy timeout: a
    test that freezes a writer (SIGSTOP) holds that lock, and the poll tries again."""
    try:
        return predicate()
    except OperationalError as exc:
        if "database is locked" not in str(exc):
            raise
        return _Locked(f"OperationalError: {exc}")


class _Locked(str):
    """A poll the database's lock refused: falsy, shown as the last value on a time-out."""

    def __bool__(self) -> bool:
        return False


def seconds_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str = "the condition",
) -> float:
    """wait_until, returning the seconds the wait took."""
    start = time.monotonic()
    wait_until(predicate, timeout=timeout, interval=interval, message=message)
    return time.monotonic() - start
