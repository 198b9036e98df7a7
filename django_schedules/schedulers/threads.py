"""The schedulers whose loop is a thread of this process: blocking and background."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django_schedules import scheduler as engine
from django_schedules.schedulers.base import STATE_PAUSED, STATE_STOPPED, BaseScheduler


class BlockingScheduler(BaseScheduler):
    """Run the loop in the thread that calls ``start()``, which returns after ``shutdown()``
    (from another thread, a job or a signal handler's thread) or a KeyboardInterrupt.

    For a script or a dedicated process; ``manage.py runscheduler`` is the same loop."""

    def __init__(self, gconfig: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(gconfig, **options)
        self._wake = threading.Condition(self._lock)
        self._ended = threading.Event()
        self._ended.set()
        self._loop_thread: int | None = None
        self._in_run = False  # the loop thread is inside Scheduler.run()

    def _build_engine(self) -> None:
        self._engine = engine.Scheduler(**self._engine_options)

    def start(self, paused: bool = False) -> None:
        super().start(paused)
        self._ended.clear()
        self._loop_thread = threading.get_ident()
        try:
            while True:
                with self._wake:
                    while self._state == STATE_PAUSED:
                        self._wake.wait()
                    if self._state == STATE_STOPPED:
                        return
                    self._in_run = True
                try:
                    self._engine.run()  # until pause() or shutdown() stops it
                finally:
                    self._in_run = False
        except BaseException:
            with self._lock:
                self._state = STATE_STOPPED
            raise
        finally:
            self._loop_thread = None
            self._ended.set()

    def _start_engine(self) -> None:
        self._wake.notify_all()  # start() runs it (or resume() wakes start() to run it again)

    def _stop_engine(self, wait: bool) -> None:
        self._engine.stop()
        self._wake.notify_all()
        # From the loop's own thread (an inline job) there is nothing to wait for.
        if wait and self._loop_thread not in (None, threading.get_ident()):
            self._lock.release()  # let start() see the new state while we wait
            try:
                if self._state == STATE_STOPPED:
                    self._ended.wait()
                else:  # paused: until the loop left run() to wait for resume()
                    while self._in_run:
                        self._ended.wait(0.01)
            finally:
                self._lock.acquire()


class BackgroundScheduler(BaseScheduler):
    """Run the loop in a daemon thread; ``start()`` returns at once. For a web or worker
    process: several processes (gunicorn workers) elect one leader through the lease."""

    def _build_engine(self) -> None:
        self._face = engine.BackgroundScheduler(**self._engine_options)

    @property
    def _engine(self) -> engine.Scheduler:
        return self._face.scheduler

    def _start_engine(self) -> None:
        self._face.shutdown(wait=True)  # a thread still stopping (shutdown(wait=False)) ends
        self._face.start()

    def _stop_engine(self, wait: bool) -> None:
        self._face.shutdown(wait=wait)
