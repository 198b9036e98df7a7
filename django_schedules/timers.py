"""Claimed executions waiting for their instant, shared by the loop thread, which pushes
them, and the timer thread, which pops each when its release time comes."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_schedules.store import Claimed


class Timers:
    """A heap of (release time, claimed execution, lease epoch) under one condition."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Claimed, int]] = []
        self._seq = itertools.count()  # ties keep their order; Claimed is not comparable
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, release_at: datetime, claimed: Claimed, epoch: int) -> None:
        with self._cond:
            heapq.heappush(self._heap, (release_at, next(self._seq), claimed, epoch))
            self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def pop_due(self, now: datetime) -> list[tuple[Claimed, int]]:
        due: list[tuple[Claimed, int]] = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                _, _, claimed, epoch = heapq.heappop(self._heap)
                due.append((claimed, epoch))
        return due

    def execution_ids(self) -> set[int]:
        with self._cond:
            return {claimed.execution_id for _, _, claimed, _ in self._heap}

    def wait(self, now: Callable[[], datetime], most: float) -> None:
        """Sleep until the first release time, ``most`` seconds at most, or a ``wake()``."""
        with self._cond:
            delay = (self._heap[0][0] - now()).total_seconds() if self._heap else most
            if delay > 0:
                self._cond.wait(min(delay, most))

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
