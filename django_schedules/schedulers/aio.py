"""The schedulers that live beside an asyncio event loop: asyncio and Tornado.

The loop's queries run in a thread of their own, so they never block the event loop; sync
jobs run in the executor's threads and ``async def`` jobs on the event loop (the thread pool
and inline executors hand them over).
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Mapping
from typing import Any

from django_schedules.schedulers.threads import BackgroundScheduler


class AsyncIOScheduler(BackgroundScheduler):
    """APScheduler's ``AsyncIOScheduler(event_loop=None)``.

    ``start()`` is called inside the running loop, or before it runs: then the loop is
    ``event_loop``, else the thread's current loop (one is made and set when there is none),
    which the caller then runs (``asyncio.get_event_loop().run_forever()``).
    ``shutdown(wait=True)`` called on the event loop's own thread does not block it (async
    jobs need it to finish): it asks the loop to stop and returns; ``await
    scheduler.wait_stopped()`` waits for the end.
    """

    def __init__(
        self,
        gconfig: Mapping[str, Any] | None = None,
        *,
        event_loop: asyncio.AbstractEventLoop | None = None,
        **options: Any,
    ):
        super().__init__(gconfig, **options)
        self._eventloop = event_loop

    def _own_options(self) -> str:
        return ", event_loop"

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
        if self._eventloop is not None:
            return self._eventloop
        with warnings.catch_warnings():  # "no current event loop" on 3.12+: we set one
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return asyncio.get_event_loop()
            except RuntimeError:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                return loop

    def _start_engine(self) -> None:
        self._eventloop = self._event_loop()
        for executor in self._engine.executors.values():
            executor.use_event_loop(self._eventloop)
        super()._start_engine()

    def _stop_engine(self, wait: bool) -> None:
        if wait and self._on_event_loop():
            wait = False  # blocking here would starve the async jobs the loop waits for
        super()._stop_engine(wait)

    def _on_event_loop(self) -> bool:
        loop = self._eventloop
        if loop is None or not loop.is_running():
            return False
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    async def wait_stopped(self) -> None:
        """Wait, without blocking the event loop, until the loop thread has ended."""
        thread: threading.Thread | None = self._face._thread
        if thread is not None:
            await asyncio.to_thread(thread.join)


class TornadoScheduler(AsyncIOScheduler):
    """APScheduler's ``TornadoScheduler(io_loop=None)``: Tornado's IOLoop runs on asyncio
    (Tornado 5 and later), so this is the asyncio scheduler on ``io_loop``'s asyncio loop
    (default: ``IOLoop.current()``). Needs ``pip install "django-schedules[tornado]"``."""

    def __init__(
        self, gconfig: Mapping[str, Any] | None = None, *, io_loop: Any = None, **options: Any
    ) -> None:
        self._check_runtime()
        super().__init__(gconfig, **options)
        self._io_loop = io_loop

    def _own_options(self) -> str:
        return ", io_loop"

    def _check_runtime(self) -> None:
        from django_schedules.schedulers.runtimes import missing

        try:
            import tornado.ioloop  # noqa: F401
        except ImportError as exc:
            raise missing("tornado", "tornado") from exc

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        from tornado.ioloop import IOLoop

        io_loop: Any = self._io_loop or IOLoop.current()
        loop: asyncio.AbstractEventLoop = io_loop.asyncio_loop  # an AsyncIOLoop's, Tornado 5+
        return loop
