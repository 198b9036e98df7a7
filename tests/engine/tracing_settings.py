"""The test settings, plus an OpenTelemetry SDK writing each ended span as a JSON line to the
file named by SCHEDULES_TEST_SPANS: for worker processes (a process pool's, a db_worker) whose
spans tests/engine/test_tracing.py reads back."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

_spans = os.environ.get("SCHEDULES_TEST_SPANS")
if _spans:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    _provider = TracerProvider()
    _out = open(_spans, "a", buffering=1)  # noqa: SIM115 - the process's lifetime
    _provider.add_span_processor(
        SimpleSpanProcessor(
            ConsoleSpanExporter(out=_out, formatter=lambda span: span.to_json(indent=None) + "\n")
        )
    )
    trace.set_tracer_provider(_provider)
