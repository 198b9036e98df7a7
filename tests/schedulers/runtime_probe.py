"""Run by test_runtimes.py in a fresh interpreter: one scheduler object in its runtime's real
loop (gevent monkey-patched, a Twisted reactor, a Qt application), which would otherwise
patch or own the pytest process. Prints one JSON line: what the test asserts on.

Usage: python runtime_probe.py gevent|twisted|qt
"""

from __future__ import annotations

import sys

KIND = sys.argv[1]
if KIND == "gevent":  # before anything imports threading
    from gevent import monkey

    monkey.patch_all()

import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import django  # noqa: E402

django.setup()

from django_schedules.models import Execution, SchedulerLease  # noqa: E402
from tests.schedulers import jobs  # noqa: E402

FAST = {"poll_interval": 0.05, "lease_ttl": 5, "shutdown_grace": 5}
DEADLINE = time.monotonic() + float(os.environ.get("PROBE_DEADLINE", "60"))


def succeeded() -> list[str]:
    return list(
        Execution.objects.filter(status="succeeded").order_by("id").values_list("result", flat=True)
    )


def lease_owner() -> str:
    lease = SchedulerLease.objects.filter(group="default").first()
    return "" if lease is None else lease.owner


def report(**facts: Any) -> None:
    print(json.dumps(facts))  # noqa: T201


def run_gevent() -> None:
    from gevent import sleep

    from django_schedules import GeventScheduler

    scheduler = GeventScheduler(**FAST)
    scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["gevent"])
    scheduler.start()
    beats = 0
    while not succeeded() and time.monotonic() < DEADLINE:
        sleep(0.01)  # this greenlet yields; the scheduler's greenlets run meanwhile
        beats += 1
    scheduler.shutdown()
    report(results=succeeded(), beats=beats, running=scheduler.running, owner=lease_owner())


def run_twisted() -> None:
    from twisted.internet import reactor, threads

    from django_schedules import TwistedScheduler

    scheduler = TwistedScheduler(**FAST)
    scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["twisted", 0.5])
    reactor_thread = threading.get_ident()
    facts: dict[str, Any] = {"ticks": 0}

    def tick() -> None:  # the reactor keeps turning while the job runs
        facts["ticks"] += 1
        if reactor.running:
            reactor.callLater(0.02, tick)

    def poll() -> None:
        def seen(found: list[str]) -> None:
            if found or time.monotonic() > DEADLINE:
                facts["results"] = found
                facts["running_before_stop"] = scheduler.running
                reactor.stop()  # the scheduler shuts down with the reactor
            else:
                reactor.callLater(0.05, poll)

        threads.deferToThread(succeeded).addCallback(seen)

    reactor.callWhenRunning(scheduler.start)
    reactor.callWhenRunning(tick)
    reactor.callWhenRunning(poll)
    reactor.run()
    report(
        reactor_thread=reactor_thread,
        running=scheduler.running,
        owner=lease_owner(),
        **facts,
    )


def run_qt() -> None:
    from PySide6.QtCore import QThread, QTimer
    from PySide6.QtGui import QGuiApplication

    from django_schedules import QtScheduler

    app = QGuiApplication([])
    gui_thread = threading.get_ident()
    scheduler = QtScheduler(**FAST)
    # The job sleeps two seconds: were it on the GUI thread, the GUI's timer would stall that long.
    scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["qt", 2.0])
    facts: dict[str, Any] = {
        "gui_is_main": QThread.currentThread() is app.thread(),
        "loop_threads": [],
    }
    beats: list[float] = []
    engine_tick = scheduler._engine.tick

    def tick_spy() -> float:  # the real tick, noting which thread runs it
        current = QThread.currentThread()
        facts["loop_threads"].append(current is scheduler._thread and current is not app.thread())
        return engine_tick()

    scheduler._engine.tick = tick_spy  # type: ignore[method-assign]

    def beat() -> None:
        beats.append(time.monotonic())

    def second_run() -> None:  # after pause() and resume(): a new QThread, another job fired
        found = succeeded()
        if len(found) >= 2 or time.monotonic() > DEADLINE:
            facts["results"] = found
            facts["running_before_quit"] = scheduler.running
            facts["python_loop_threads"] = [
                t.name for t in threading.enumerate() if t.name == "schedules-loop"
            ]
            app.quit()  # aboutToQuit shuts the scheduler down
        else:
            QTimer.singleShot(50, second_run)

    def first_run() -> None:
        found = succeeded()
        if not found and time.monotonic() < DEADLINE:
            QTimer.singleShot(50, first_run)
            return
        facts["first"] = found
        facts["gaps_during_job"] = max(b - a for a, b in itertools.pairwise(beats))
        facts["beats_during_job"] = len(beats)
        first_thread = scheduler._thread
        facts["loop_running_before_pause"] = first_thread.isRunning()
        scheduler.pause()  # waits for the loop's QThread to end
        facts["loop_finished_after_pause"] = first_thread.isFinished()
        scheduler.resume()
        facts["new_loop_thread"] = scheduler._thread is not first_thread
        scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["again"])
        QTimer.singleShot(50, second_run)

    ticker = QTimer()
    ticker.timeout.connect(beat)
    ticker.start(20)
    QTimer.singleShot(0, scheduler.start)  # started from the Qt event loop
    QTimer.singleShot(50, first_run)
    app.exec()
    facts["loop_finished_after_quit"] = scheduler._thread.isFinished()
    loop_threads = facts.pop("loop_threads")
    report(
        gui_thread=gui_thread,
        running=scheduler.running,
        owner=lease_owner(),
        loop_ticks=len(loop_threads),
        ticks_in_loop_thread=all(loop_threads),
        **facts,
    )


{"gevent": run_gevent, "twisted": run_twisted, "qt": run_qt}[KIND]()
