"""Clocks. The scheduler never reads the time directly: it takes a clock, so tests move time.

``now()`` is the host's wall clock in aware UTC (used to decide which occurrences are due);
``monotonic()`` measures intervals (lease renewal, timeouts); ``sleep()`` waits.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current instant, aware, in UTC."""

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never goes backwards."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a manual clock just moves forward)."""


class SystemClock:
    """The host's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; ``sleep()`` moves it forward. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"start must be an aware datetime, got {start!r}")
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, instant: datetime) -> None:
        """Move the wall clock to `instant` (forwards or back); monotonic time moves forward."""
        with self._lock:
            delta = (instant.astimezone(UTC) - self._now).total_seconds()
            self._now = instant.astimezone(UTC)
            self._mono += max(delta, 0.0)
