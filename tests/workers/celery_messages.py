"""Run as ``python -m tests.workers.celery_messages QUEUE`` with tests/workers/settings.py:
sends three executions through the Celery backend's own ``enqueue`` and the same three
through ``tasks.enqueue_many``, and prints, as one JSON object, the messages Redis then holds
for each way (kombu's Redis transport: one list per priority step, named after the queue)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import django


def taken(client: Any, queue: str) -> list[dict[str, Any]]:
    """The messages waiting on `queue`, oldest first, removed."""
    messages = []
    for key in sorted(client.scan_iter(f"{queue}*")):
        messages += [json.loads(raw) for raw in reversed(client.lrange(key, 0, -1))]
        client.delete(key)
    return messages


def main(queue: str) -> None:
    django.setup()
    import redis

    from django_schedules import tasks

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    instant = datetime.now(UTC)
    deliveries: list[tasks.Delivery] = [(7, 1, instant, None), (8, 2, instant, None)]
    deliveries.append((9, 1, instant, None))
    task = tasks.task_for("celery", queue)
    for execution_id, delivery, at, _ in deliveries:
        task.enqueue(execution_id, delivery, at.timestamp())
    own = taken(client, queue)
    tasks.enqueue_many(deliveries, backend="celery", queue_name=queue, priority=None)
    bulk = taken(client, queue)
    client.close()
    print(json.dumps({"own": own, "bulk": bulk}))  # noqa: T201  (read by the test)


if __name__ == "__main__":
    main(sys.argv[1])
