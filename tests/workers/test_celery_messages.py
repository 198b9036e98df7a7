"""The Celery messages of a batch (tasks._celery_enqueue_many, which works out once what
Celery's send_task works out per message) are the messages the backend's own ``enqueue``
sends, but for the task id (ours: the execution and the delivery) and kombu's delivery tag:
the same task name, arguments, queue, priority, headers and properties, so a worker takes
them as its own. Read off the machine's Redis, on a queue of the test's own."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
from typing import Any

import pytest

from django_schedules.tasks import engine_id
from tests.processes import REPO_ROOT, command_env

from .engines import SETTINGS

# The database is the subprocess's too: the engine ids end with its namespace.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# What tells two messages of one task apart: the task id (three places) and kombu's tag.
PER_MESSAGE = {("headers", "id"), ("headers", "root_id"), ("properties", "correlation_id")}


def sent(queue: str) -> dict[str, list[dict[str, Any]]]:
    command = [sys.executable, "-m", "tests.workers.celery_messages", queue]
    env = command_env(DJANGO_SETTINGS_MODULE=SETTINGS, SCHEDULES_WORKER_QUEUE=queue)
    done = subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    messages: dict[str, list[dict[str, Any]]] = json.loads(done.stdout.splitlines()[-1])
    return messages


def without_ids(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its body decoded and what differs per message taken out."""
    plain = {
        "body": json.loads(base64.b64decode(message["body"])),
        "headers": dict(message["headers"]),
        "properties": {k: v for k, v in message["properties"].items() if k != "delivery_tag"},
        **{k: v for k, v in message.items() if k not in ("body", "headers", "properties")},
    }
    for part, key in PER_MESSAGE:
        plain[part].pop(key)
    # The backends differ here, and so do their own messages: fennel's send_task shows a
    # tuple and leaves ignore_result None, django-tasks-celery's apply_async shows a list and
    # sets it False; a worker reads None and False alike.
    plain["headers"]["argsrepr"] = list(ast.literal_eval(plain["headers"]["argsrepr"]))
    plain["headers"]["ignore_result"] = bool(plain["headers"]["ignore_result"])
    return plain


def test_a_batch_sends_what_the_backends_own_enqueue_sends(queue: str) -> None:
    messages = sent(queue)
    own, bulk = messages["own"], messages["bulk"]
    assert len(own) == len(bulk) == 3
    assert [m["headers"]["id"] for m in bulk] == [engine_id(7, 1), engine_id(8, 2), engine_id(9, 1)]
    for m in bulk:
        assert m["headers"]["root_id"] == m["properties"]["correlation_id"] == m["headers"]["id"]
    for ours, theirs in zip(bulk, own, strict=True):
        assert without_ids(ours) == without_ids(theirs)
    assert without_ids(bulk[1])["body"][0][:2] == [8, 2]  # (execution, delivery, instant)
