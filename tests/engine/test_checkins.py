"""The check-ins recipe of docs/check-ins.md (docs/snippets/checkins.py, loaded as it is written)
driven by real runs of the scheduler, against a ping endpoint served here on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from django_schedules.models import Execution
from django_schedules.scheduler import Scheduler
from django_schedules.signals import execution_finished, execution_started
from tests.polling import wait_until
from tests.processes import REPO_ROOT

from .conftest import interval_schedule

SNIPPET = REPO_ROOT / "docs" / "snippets" / "checkins.py"
OK_CHECK = "6f1c2a3e-0000-4000-8000-000000000001"
BAD_CHECK = "6f1c2a3e-0000-4000-8000-000000000002"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recipe(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    # A module of its own per test: its logger's name, its queue and its thread.
    spec = importlib.util.spec_from_file_location(f"checkins_{request.node.name}", SNIPPET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # connects its receivers, as importing it in ready() does
    yield module
    execution_started.disconnect(sender=Execution, dispatch_uid="checkins.started")
    execution_finished.disconnect(sender=Execution, dispatch_uid="checkins.finished")
    # The endpoint is closed by now (fixtures end in reverse): the pings left fail fast.
    wait_until(lambda: module._pings.unfinished_tasks == 0, timeout=60, message="the pings")


def warnings_of(recipe: ModuleType, caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == recipe.__name__]


class PingServer:
    """healthchecks.io's side, reduced to recording each request's path (and query)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = False  # so that close() waits for each request's thread
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """An endpoint that accepts connections and never answers (a hung service)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone would not
        self.listener.close()
        self.thread.join(60)
        for connection in self.held:
            connection.close()


@pytest.fixture
def endpoint() -> Iterator[PingServer]:
    server = PingServer()
    yield server
    server.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def run_two_jobs() -> dict[str, str]:
    """One run that succeeds and one that fails, through the scheduler and its thread pool."""
    now = datetime.now(UTC)
    interval_schedule("ok-job", 3600, next_run_at=now, start=now)
    interval_schedule("bad-job", 3600, func="engine.boom", next_run_at=now, start=now)
    Scheduler(poll_interval=0.05, lookahead=0.0).run(once=True)
    return dict(Execution.objects.values_list("job_id", "status"))


def test_it_pings_start_then_success_and_start_then_fail(
    recipe: ModuleType, endpoint: PingServer
) -> None:
    recipe.CHECKS = {
        "ok-job": f"{endpoint.url}/{OK_CHECK}",
        "bad-job": f"{endpoint.url}/{BAD_CHECK}",
    }
    assert run_two_jobs() == {"ok-job": "succeeded", "bad-job": "failed"}
    wait_until(lambda: recipe._pings.unfinished_tasks == 0, timeout=60, message="the pings")
    assert [p for p in endpoint.paths if OK_CHECK in p] == [f"/{OK_CHECK}/start", f"/{OK_CHECK}"]
    assert [p for p in endpoint.paths if BAD_CHECK in p] == [
        f"/{BAD_CHECK}/start",
        f"/{BAD_CHECK}/fail",
    ]


def test_the_sentry_form_sends_in_progress_then_ok_or_error(
    recipe: ModuleType, endpoint: PingServer
) -> None:
    recipe.URL_FOR = recipe.sentry_url
    base = f"{endpoint.url}/api/0/cron/%s/examplePublicKey/"
    recipe.CHECKS = {"ok-job": base % "nightly", "bad-job": base % "hourly"}
    run_two_jobs()
    wait_until(lambda: recipe._pings.unfinished_tasks == 0, timeout=60, message="the pings")
    assert [p for p in endpoint.paths if "/nightly/" in p] == [
        "/api/0/cron/nightly/examplePublicKey/?status=in_progress",
        "/api/0/cron/nightly/examplePublicKey/?status=ok",
    ]
    assert [p for p in endpoint.paths if "/hourly/" in p] == [
        "/api/0/cron/hourly/examplePublicKey/?status=in_progress",
        "/api/0/cron/hourly/examplePublicKey/?status=error",
    ]


def test_a_hung_endpoint_holds_no_run(
    recipe: ModuleType, silent: SilentServer, caplog: pytest.LogCaptureFixture
) -> None:
    recipe.TIMEOUT = 120.0  # longer than this test: a run that waited for a ping would hang
    recipe.CHECKS = {"ok-job": f"{silent.url}/{OK_CHECK}", "bad-job": f"{silent.url}/{BAD_CHECK}"}
    with caplog.at_level(logging.WARNING, logger=recipe.__name__):
        assert run_two_jobs() == {"ok-job": "succeeded", "bad-job": "failed"}
        wait_until(lambda: silent.held, timeout=60, message="a ping to reach the endpoint")
        # The runs ended, and the scheduler's pass returned, with a ping still waiting.
        assert recipe._pings.unfinished_tasks >= 1
        assert warnings_of(recipe, caplog) == []


def test_a_ping_that_times_out_is_logged_and_the_next_ones_still_go(
    recipe: ModuleType, silent: SilentServer, caplog: pytest.LogCaptureFixture
) -> None:
    recipe.TIMEOUT = 0.5
    recipe.CHECKS = {"ok-job": f"{silent.url}/{OK_CHECK}"}
    with caplog.at_level(logging.WARNING, logger=recipe.__name__):
        assert run_two_jobs() == {"ok-job": "succeeded", "bad-job": "failed"}
        wait_until(lambda: recipe._pings.unfinished_tasks == 0, timeout=60, message="the pings")
    messages = warnings_of(recipe, caplog)
    assert messages == [
        f"check-in {silent.url}/{OK_CHECK}/start failed: timed out",
        f"check-in {silent.url}/{OK_CHECK} failed: timed out",
    ]


def test_a_refused_ping_is_logged_and_the_run_is_unaffected(
    recipe: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    recipe.CHECKS = {"bad-job": f"http://127.0.0.1:{port}/{BAD_CHECK}"}
    with caplog.at_level(logging.WARNING, logger=recipe.__name__):
        assert run_two_jobs() == {"ok-job": "succeeded", "bad-job": "failed"}
        wait_until(lambda: recipe._pings.unfinished_tasks == 0, timeout=60, message="the pings")
    messages = warnings_of(recipe, caplog)
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"check-in http://127.0.0.1:{port}/{BAD_CHECK}/start failed:")
    assert messages[1].startswith(f"check-in http://127.0.0.1:{port}/{BAD_CHECK}/fail failed:")
    assert all("Connection refused" in message for message in messages), messages
