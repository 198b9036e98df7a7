"""GeventScheduler, TwistedScheduler and QtScheduler, each in its runtime's real loop (in a
fresh interpreter: monkey-patching and reactors would poison the pytest process), and
TornadoScheduler on a Tornado IOLoop serving HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from django_schedules.exceptions import SchedulerConfigError
from django_schedules.schedulers import runtimes
from tests.databases import database_url
from tests.schedulers import jobs
from tests.schedulers.conftest import results, wait_for_results

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def probe(kind: str, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("runtime_probe.py")), kind],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


def thread_of(result: str) -> int:
    return int(result.strip("'").rsplit("@", 1)[1])


def test_the_gevent_scheduler_runs_in_a_monkey_patched_process() -> None:
    facts = probe("gevent")
    assert [r.split("@")[0] for r in facts["results"]] == ["'gevent"]
    assert facts["beats"] > 0  # the main greenlet kept yielding while the loop worked
    assert facts["running"] is False and facts["owner"] == ""


def test_the_gevent_scheduler_refuses_a_process_that_is_not_patched() -> None:
    pytest.importorskip("gevent")
    with pytest.raises(SchedulerConfigError, match=r"monkey.patch_all\(\)"):
        runtimes.GeventScheduler()


def test_the_twisted_scheduler_runs_beside_the_reactor_and_stops_with_it() -> None:
    facts = probe("twisted")
    (result,) = facts["results"]
    assert result.startswith("'twisted@") and thread_of(result) != facts["reactor_thread"]
    assert facts["running_before_stop"] is True
    assert facts["ticks"] >= 10  # the reactor turned while the half-second job ran
    assert facts["running"] is False and facts["owner"] == ""  # shut down with the reactor


def test_the_qt_scheduler_runs_its_loop_in_a_qthread_and_jobs_off_the_gui_thread() -> None:
    facts = probe("qt", QT_QPA_PLATFORM="offscreen")
    assert facts["gui_is_main"] is True
    (first,) = facts["first"]
    assert first.startswith("'qt@") and thread_of(first) != facts["gui_thread"]
    # The GUI's 20 ms timer kept firing while the two-second job ran: no stall near its length.
    assert facts["beats_during_job"] >= 20
    assert facts["gaps_during_job"] < 1.5, facts["gaps_during_job"]
    # Every tick of the loop ran in the scheduler's QThread, none in a plain Python thread.
    assert facts["loop_ticks"] > 0 and facts["ticks_in_loop_thread"] is True
    assert facts["python_loop_threads"] == []
    # pause() ended that QThread; resume() started another, which fired the next job.
    assert facts["loop_running_before_pause"] is True
    assert facts["loop_finished_after_pause"] is True and facts["new_loop_thread"] is True
    assert [r.split("@")[0] for r in facts["results"]] == ["'qt", "'again"]
    assert facts["running_before_quit"] is True
    # aboutToQuit shut it down: the lease is free and the QThread ended before the app did.
    assert facts["running"] is False and facts["owner"] == ""
    assert facts["loop_finished_after_quit"] is True


def test_the_tornado_scheduler_runs_on_an_ioloop_serving_http(fast: dict[str, float]) -> None:
    pytest.importorskip("tornado")
    from tornado.httpclient import AsyncHTTPClient
    from tornado.ioloop import IOLoop
    from tornado.web import Application, RequestHandler

    from django_schedules import TornadoScheduler

    class Ping(RequestHandler):
        def get(self) -> None:
            self.write(str(threading.get_ident()))

    async def main() -> tuple[int, str]:
        app = Application([("/", Ping)])
        server = app.listen(0, address="127.0.0.1")
        port = next(iter(server._sockets.values())).getsockname()[1]
        scheduler = TornadoScheduler(io_loop=IOLoop.current(), **fast)
        await asyncio.to_thread(add_job, scheduler)
        scheduler.start()
        await asyncio.to_thread(wait_for_results, 1)
        response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/")
        scheduler.shutdown()
        await scheduler.wait_stopped()
        server.stop()
        return threading.get_ident(), response.body.decode()

    loop_thread, served_by = asyncio.run(main())
    (result,) = results()
    assert thread_of(result) == loop_thread == int(served_by)  # the async job ran on the IOLoop


def add_job(scheduler: Any) -> None:
    try:  # Django's ORM is not for the event loop's thread: add the job from another one
        scheduler.add_job(jobs.async_where, "date", run_date=datetime.now(UTC), args=["tornado"])
    finally:
        connections.close_all()


@pytest.mark.parametrize(
    ("cls", "module", "extra"),
    [
        ("TornadoScheduler", "tornado", "tornado"),
        ("TwistedScheduler", "twisted", "twisted"),
        ("GeventScheduler", "gevent", "gevent"),
        ("QtScheduler", "PySide6", "qt"),
    ],
)
def test_a_missing_runtime_names_the_extra_to_install(cls: str, module: str, extra: str) -> None:
    # A real interpreter where the runtime cannot be imported: its name is blocked in sys.modules.
    blocked = dict.fromkeys((module, "PyQt6"))
    code = (
        "import sys, django; "
        f"sys.modules.update({blocked!r}); django.setup(); "
        "import django_schedules as d\n"
        f"try:\n    d.{cls}()\nexcept ImportError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f'pip install "django-schedules[{extra}]"' in done.stdout
