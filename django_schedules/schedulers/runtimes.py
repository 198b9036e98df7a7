"""The schedulers for gevent, Twisted and Qt, whose runtimes are optional extras.

Each runs the loop in a thread of its own beside the runtime's loop (under gevent's
monkey-patching that thread is a greenlet; under Qt it is a ``QThread``), jobs in the
executors' threads: never on the reactor's or the GUI thread. Constructing one whose
runtime is missing raises ImportError naming the extra to install.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.db import connections

from django_schedules import scheduler as engine
from django_schedules.exceptions import SchedulerConfigError
from django_schedules.schedulers.base import BaseScheduler
from django_schedules.schedulers.threads import BackgroundScheduler


def missing(runtime: str, extra: str) -> ImportError:
    """The error for a scheduler whose runtime is not installed: it names the extra."""
    return ImportError(
        f"this scheduler needs {runtime}, which is not installed: "
        f'pip install "django-schedules[{extra}]"'
    )


class GeventScheduler(BackgroundScheduler):
    """APScheduler's ``GeventScheduler``, for a process patched by ``gevent.monkey``
    (``patch_all()`` before Django is imported): the loop and the thread pool's threads are
    greenlets, and the database driver's waits yield to the hub. ``start()`` returns at
    once. Needs ``pip install "django-schedules[gevent]"``."""

    def __init__(self, gconfig: Mapping[str, Any] | None = None, **options: Any) -> None:
        self._check_runtime()
        super().__init__(gconfig, **options)

    def _check_runtime(self) -> None:
        try:
            from gevent import monkey
        except ImportError as exc:
            raise missing("gevent", "gevent") from exc
        if not monkey.is_module_patched("threading"):
            raise SchedulerConfigError(
                "GeventScheduler needs gevent's monkey-patching: call "
                "`from gevent import monkey; monkey.patch_all()` first thing in the process, "
                "before Django is imported (or use BackgroundScheduler without gevent)",
                "gevent",
            )


class TwistedScheduler(BackgroundScheduler):
    """APScheduler's ``TwistedScheduler(reactor=None)``: ``start()`` (call it when the
    reactor runs, or before) returns at once, and the reactor's shutdown shuts the scheduler
    down (a standby takes over at once). Jobs run in the executors' threads, never on the
    reactor's thread. Needs ``pip install "django-schedules[twisted]"``."""

    def __init__(
        self, gconfig: Mapping[str, Any] | None = None, *, reactor: Any = None, **options: Any
    ) -> None:
        self._check_runtime()
        super().__init__(gconfig, **options)
        self._reactor = reactor
        self._trigger: Any = None

    def _own_options(self) -> str:
        return ", reactor"

    def _check_runtime(self) -> None:
        try:
            import twisted.internet  # noqa: F401
        except ImportError as exc:
            raise missing("twisted", "twisted") from exc

    def _start_engine(self) -> None:
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        if self._trigger is None:
            self._trigger = self._reactor.addSystemEventTrigger(
                "before", "shutdown", self._on_reactor_shutdown
            )
        super()._start_engine()

    def _on_reactor_shutdown(self) -> Any:
        self._trigger = None
        if not self.running:
            return None
        from twisted.internet import threads

        # The reactor waits for this Deferred: the lease is released and runs end (up to
        # the shutdown grace) in a thread, so the reactor's thread is never blocked.
        return threads.deferToThreadPool(
            self._reactor, self._reactor.getThreadPool(), self.shutdown
        )


class QtScheduler(BaseScheduler):
    """APScheduler's ``QtScheduler``, for a Qt application (PySide6, or PyQt6): a ``QThread``
    runs the loop (its queries, its sleeps) and jobs run in the executors' threads, so the
    GUI thread is never blocked; quitting the application (``aboutToQuit``) shuts the
    scheduler down, letting running jobs end (up to ``SCHEDULES_SHUTDOWN_GRACE``) so no
    ``QThread`` outlives the application. Call ``start()`` once the ``QApplication`` exists.
    Needs ``pip install "django-schedules[qt]"``."""

    def __init__(self, gconfig: Mapping[str, Any] | None = None, **options: Any) -> None:
        self._check_runtime()
        super().__init__(gconfig, **options)
        self._thread: Any = None  # the QThread running the loop
        self._connected = False

    def _build_engine(self) -> None:
        self._engine = engine.Scheduler(**self._engine_options)

    def _check_runtime(self) -> None:
        _qt_core()

    def _start_engine(self) -> None:
        core = _qt_core()
        app = core.QCoreApplication.instance()
        if app is None:
            raise SchedulerConfigError(
                "QtScheduler.start() needs a Qt application: create the QApplication "
                "(or QCoreApplication) first",
                "qt",
            )
        if not self._connected:
            app.aboutToQuit.connect(self._on_quit)
            self._connected = True
        if self._thread is not None:
            self._thread.wait()  # a loop still stopping (shutdown(wait=False)) ends first
        self._thread = _loop_thread(core)(self._run_loop)
        self._thread.start()

    def _run_loop(self) -> None:
        """The QThread's body: the engine's loop until ``stop()``."""
        try:
            self._engine.run()
        except Exception:
            self._logger.exception("the Qt scheduler's loop stopped on an error")
        finally:
            connections.close_all()

    def _stop_engine(self, wait: bool) -> None:
        self._engine.stop()
        thread = self._thread
        # From the loop's own thread (an inline job) there is nothing to wait for.
        if wait and thread is not None and thread is not _qt_core().QThread.currentThread():
            thread.wait()

    def _on_quit(self) -> None:
        if self.running:
            # The lease is released at once; running jobs get the shutdown grace, so the
            # QThread has ended before the application does.
            self.shutdown(wait=True)


@functools.cache
def _loop_thread(core: Any) -> Any:
    """The ``QThread`` class of Qt's ``core`` module whose ``run()`` calls ``target``."""

    class LoopThread(core.QThread):  # type: ignore[misc]
        def __init__(self, target: Any) -> None:
            super().__init__()
            self.setObjectName("schedules-loop")
            self._target = target

        def run(self) -> None:
            self._target()

    return LoopThread


def _qt_core() -> Any:
    """Qt's QtCore module: PySide6's, else PyQt6's."""
    try:
        from PySide6 import QtCore
    except ImportError:
        try:
            from PyQt6 import QtCore  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError as exc:
            raise missing("PySide6", "qt") from exc
    return QtCore
