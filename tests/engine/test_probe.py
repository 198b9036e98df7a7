"""The probe's SQL is compiled once per process; it answers as the ORM queryset does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_schedules import store
from django_schedules.models import Execution, ExecutionStatus

from .conftest import NOW, interval_schedule

pytestmark = pytest.mark.django_db


def orm(group: str, owner: str, epoch: int) -> store.Probe:
    rows = list(store._probe_queryset(group, owner, epoch, "default"))
    if not rows:
        return store.Probe(False, None, False)
    return store.Probe(bool(rows[0][0]), rows[0][1], bool(rows[0][2]))


def test_the_cached_probe_answers_as_the_queryset() -> None:
    assert store.probe("default", "me", 1, "default") == store.Probe(False, None, False)
    epoch = store.take_lease("default", "me", timedelta(seconds=60), "default")
    assert epoch is not None
    assert store._compiled_probe("default").sql  # compiled, not the ORM fallback
    interval_schedule("a", next_run_at=NOW + timedelta(seconds=5))
    interval_schedule("b", next_run_at=NOW, enabled=False)
    seen = store.probe("default", "me", epoch, "default")
    assert seen == orm("default", "me", epoch)
    assert seen.holds_lease and seen.earliest == NOW + timedelta(seconds=5)
    assert seen.earliest.utcoffset() == timedelta(0)
    assert not seen.manual_pending
    Execution.objects.create(job_id="m", fire_time=NOW, status=ExecutionStatus.PENDING)
    assert store.probe("default", "me", epoch, "default").manual_pending
    # Another owner, another epoch, another group: not ours.
    assert not store.probe("default", "you", epoch, "default").holds_lease
    assert not store.probe("default", "me", epoch + 1, "default").holds_lease
    assert store.probe("other", "me", epoch, "default") == store.Probe(False, None, False)
