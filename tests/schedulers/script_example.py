"""APScheduler 3's BlockingScheduler example as a script, with only the import changed,
``django.setup()`` at the top and ``@job`` on the function (test_script.py runs it). Its job
is defined here, in ``__main__``: it runs in this process, on the thread pool.

A listener shuts the scheduler down once both jobs ran, so ``start()`` returns.
"""

from __future__ import annotations

import django

django.setup()

from datetime import date, datetime, timedelta  # noqa: E402

from django_schedules import BlockingScheduler, job  # noqa: E402
from django_schedules.schedulers.events import EVENT_JOB_EXECUTED  # noqa: E402

RAN: list[str] = []


@job
def my_job(text: str) -> str:
    RAN.append(text)
    return text


scheduler = BlockingScheduler(poll_interval=0.05, lease_ttl=5, shutdown_grace=5)
today = date.today()
soon = (datetime.now() + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")  # naive: TIME_ZONE
scheduler.add_job(my_job, "date", run_date=today, args=["text"], id="by-date")
scheduler.add_job(my_job, "date", run_date=soon, args=["more text"], id="by-string")


def done(event: object) -> None:
    if len(RAN) == 2:
        scheduler.shutdown(wait=False)


scheduler.add_listener(done, EVENT_JOB_EXECUTED)
scheduler.start()
print(sorted(RAN))  # noqa: T201
