"""The one way tests wait: poll a predicate until it holds, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message}; last value: {value!r}"
            )
        time.sleep(interval)
    return value


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
