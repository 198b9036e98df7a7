"""OpenTelemetry traces (docs/tracing.md): a span per claim and per run, and the run's span a
child of its claim's wherever it runs: a pool thread here, a process pool's worker, a
db_worker process reached through the tasks hand-off. The spans are read back from the SDK's
in-memory exporter (in this process) or from the JSON lines a worker's SDK writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, StatusCode

from django_schedules import tracing
from django_schedules.clock import ManualClock
from django_schedules.executors import ProcessPoolExecutor, TasksExecutor, ThreadPoolExecutor
from django_schedules.models import Execution
from django_schedules.store import Claimed
from tests.databases import database_url
from tests.polling import wait_until

from .conftest import NOW, interval_schedule, make_scheduler

ROOT = Path(__file__).resolve().parents[2]
EXPORTER = InMemorySpanExporter()
WORKER = [sys.executable, "-m", "django", "db_worker", "--batch", "--backend", "db"]


class _OnlyWhileTesting(Sampler):
    """Records spans only while a test of this module runs: the provider, once set, stays
    for the whole session, and other tests must see what a project without an SDK sees
    (spans not recorded, no context sent with a run)."""

    on = False

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        if self.on:
            return ALWAYS_ON.should_sample(*args, **kwargs)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "only while a tracing test runs"


_SAMPLER = _OnlyWhileTesting()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(sampler=_SAMPLER)
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another tracer provider is set"
    EXPORTER.clear()
    tracing._waiting.clear()
    _SAMPLER.on = True
    try:
        yield EXPORTER
    finally:
        _SAMPLER.on = False
        EXPORTER.clear()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


@pytest.mark.django_db(transaction=True)
def test_a_runs_span_is_a_child_of_its_claims_span(clock: ManualClock, spans) -> None:
    interval_schedule("traced", 60, kwargs={"tag": "t"})
    executor = ThreadPoolExecutor("default", {"max_workers": 1}, using="default")
    try:
        make_scheduler(clock, executor).tick()
        wait_until(lambda: named(spans, tracing.RUN_SPAN), timeout=30)
    finally:
        executor.close()
    [claim] = [s for s in named(spans, tracing.CLAIM_SPAN) if s.attributes["schedules.claimed"]]
    [run] = named(spans, tracing.RUN_SPAN)
    execution = Execution.objects.get()
    assert claim.attributes["schedules.group"] == "default"
    assert claim.attributes["schedules.claimed"] == 1
    assert run.parent is not None and run.parent.span_id == claim.context.span_id
    assert run.context.trace_id == claim.context.trace_id
    assert run.kind == SpanKind.CONSUMER
    assert run.attributes["schedules.job_id"] == "traced"
    assert run.attributes["schedules.execution_id"] == execution.pk
    assert run.attributes["schedules.fire_time"] == NOW.isoformat()
    assert run.attributes["schedules.attempt"] == 1
    assert run.attributes["schedules.func"] == "engine.record"
    assert run.attributes["schedules.lateness_s"] >= 0
    assert run.attributes["schedules.status"] == "succeeded"
    assert run.status.status_code == StatusCode.UNSET


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_is_an_error_span(clock: ManualClock, spans) -> None:
    interval_schedule("broken", 60, func="engine.boom")
    make_scheduler(clock).tick()  # the inline executor
    [run] = named(spans, tracing.RUN_SPAN)
    assert run.attributes["schedules.status"] == "failed"
    assert run.status.status_code == StatusCode.ERROR
    assert run.status.description == "failed"
    assert Execution.objects.get().status == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_run_without_a_claim_is_a_root_span(spans) -> None:
    from django_schedules import run_job_now
    from django_schedules.runner import run_execution_now

    interval_schedule("manual", 3600, next_run_at=None)
    execution = run_job_now("manual")
    assert run_execution_now(execution.pk) == "succeeded"  # as a worker would, unclaimed
    [run] = named(spans, tracing.RUN_SPAN)
    assert run.parent is None and run.kind == SpanKind.INTERNAL
    assert run.attributes["schedules.execution_id"] == execution.pk


@pytest.mark.django_db(transaction=True)
def test_the_context_goes_through_the_tasks_hand_off_as_the_tasks_last_argument(
    clock: ManualClock, spans, monkeypatch
) -> None:
    from django_schedules import tasks

    sent: list[list[Any]] = []
    build = tasks._args

    def spy(*args: Any) -> list[Any]:
        sent.append(build(*args))
        return sent[-1]

    monkeypatch.setattr(tasks, "_args", spy)
    interval_schedule("queued", 60)
    make_scheduler(clock, TasksExecutor("default", {}, using="default")).tick()  # immediate
    [claim] = [s for s in named(spans, tracing.CLAIM_SPAN) if s.attributes["schedules.claimed"]]
    [run] = named(spans, tracing.RUN_SPAN)
    [(execution_id, delivery, _instant, carrier)] = sent
    assert (execution_id, delivery) == (Execution.objects.get().pk, 1)
    assert json.loads(json.dumps(carrier)) == carrier  # it travels as JSON
    assert carrier["traceparent"].split("-")[2] == format(claim.context.span_id, "016x")
    assert run.parent is not None and run.parent.span_id == claim.context.span_id


def worker_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def assert_child_of_claim(run: dict[str, Any], claim: ReadableSpan) -> None:
    assert run["parent_id"] == f"0x{claim.context.span_id:016x}", run
    assert run["context"]["trace_id"] == f"0x{claim.context.trace_id:032x}", run
    assert run["kind"] == "SpanKind.CONSUMER"
    assert run["attributes"]["schedules.status"] == "succeeded"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_process_pool_workers_span_continues_the_claims_trace(
    clock: ManualClock, spans, monkeypatch, tmp_path: Path
) -> None:
    out = tmp_path / "spans.jsonl"
    # The spawned workers read settings afresh: the test database, and an SDK writing spans.
    monkeypatch.setenv("DATABASE_URL", database_url())
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.engine.tracing_settings")
    monkeypatch.setenv("SCHEDULES_TEST_SPANS", str(out))
    interval_schedule("pooled", 60, func="tests.testapp.jobs.add", args=[40, 2])
    executor = ProcessPoolExecutor("heavy", {"max_workers": 1}, using="default")
    try:
        make_scheduler(clock, executor).tick()
        wait_until(
            lambda: [s for s in worker_spans(out) if s["name"] == tracing.RUN_SPAN], timeout=60
        )
    finally:
        executor.close()
    [claim] = [s for s in named(spans, tracing.CLAIM_SPAN) if s.attributes["schedules.claimed"]]
    [run] = [s for s in worker_spans(out) if s["name"] == tracing.RUN_SPAN]
    assert_child_of_claim(run, claim)
    assert run["attributes"]["schedules.job_id"] == "pooled"
    assert not named(spans, tracing.RUN_SPAN)  # it ran there, not here


needs_tasks_db = pytest.mark.skipif(
    "django_tasks_db" not in settings.INSTALLED_APPS,
    reason="needs django_tasks_db in INSTALLED_APPS and a TASKS backend named 'db'",
)


@pytest.mark.slow
@needs_tasks_db
@pytest.mark.django_db(transaction=True)
def test_a_db_worker_process_continues_the_claims_trace(
    clock: ManualClock, spans, tmp_path: Path
) -> None:
    out = tmp_path / "spans.jsonl"
    interval_schedule("queued", 60, func="tests.testapp.jobs.add", args=[40, 2])
    executor = TasksExecutor("queue", {"backend": "db", "queue_name": "schedules"}, using="default")
    make_scheduler(clock, executor).tick()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.engine.tracing_settings",
        "SCHEDULES_TEST_SPANS": str(out),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    worker = subprocess.run(
        [*WORKER, "--queue-name", "schedules", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert Execution.objects.get().status == "succeeded"
    [claim] = [s for s in named(spans, tracing.CLAIM_SPAN) if s.attributes["schedules.claimed"]]
    [run] = [s for s in worker_spans(out) if s["name"] == tracing.RUN_SPAN]
    assert_child_of_claim(run, claim)


def test_without_the_api_nothing_is_traced_and_nothing_fails(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # what a missing package does
    monkeypatch.setattr(tracing, "_api", [])
    monkeypatch.setattr(tracing, "_waiting", OrderedDict())
    claimed = Claimed(1, 1, "default", NOW, NOW, job_id="j")
    with tracing.claim_span("default", 1) as span:
        assert span is None
        tracing.claimed([claimed], 0)
    assert tracing._trace() is None
    assert tracing.carrier_for(1) is None and not tracing._waiting
