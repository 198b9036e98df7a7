"""Each trigger error names the argument at fault as data (`TriggerError.field`), so a form puts
it on that field without reading the message (docs/api.md, "Errors")."""

from __future__ import annotations

from typing import Any

import pytest

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import (
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
)

CASES: list[tuple[str, Any, str | None]] = [
    ("cron day_of_week", lambda: CronTrigger(day_of_week="funday"), "day_of_week"),
    ("cron hour", lambda: CronTrigger(hour=25), "hour"),
    ("cron minute type", lambda: CronTrigger(minute=1.5), "minute"),
    ("cron never", lambda: CronTrigger(month=2, day=31), "day"),
    ("crontab weekday 8", lambda: CronTrigger.from_crontab("0 9 * * 8"), "crontab"),
    ("crontab minute 61", lambda: CronTrigger.from_crontab("61 * * * *"), "crontab"),
    ("crontab hour 25", lambda: CronTrigger.from_crontab("0 25 * * *"), "crontab"),
    ("crontab month 13", lambda: CronTrigger.from_crontab("0 0 * 13 *"), "crontab"),
    ("crontab fields", lambda: CronTrigger.from_crontab("* * *"), "crontab"),
    ("crontab never", lambda: CronTrigger.from_crontab("0 0 31 2 *"), "crontab"),
    ("interval zero", lambda: IntervalTrigger(), None),
    ("interval tiny", lambda: IntervalTrigger(seconds=1e-9), "seconds"),
    ("interval negative", lambda: IntervalTrigger(hours=-1), "hours"),
    ("calendar zero", lambda: CalendarIntervalTrigger(), "years"),
    ("date missing", lambda: DateTrigger(None), "run_date"),
    ("zone", lambda: IntervalTrigger(hours=1, timezone="Mars/Base"), "timezone"),
    ("jitter", lambda: IntervalTrigger(hours=1, jitter=-1), "jitter"),
    (
        "end before start",
        lambda: IntervalTrigger(
            hours=1, start_date="2030-01-02T00:00:00+00:00", end_date="2030-01-01T00:00:00+00:00"
        ),
        "end_date",
    ),
]


@pytest.mark.parametrize(("build", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_trigger_error_names_its_argument_as_data(build: Any, field: str | None) -> None:
    with pytest.raises(TriggerError) as caught:
        build()
    assert caught.value.field == field, str(caught.value)
