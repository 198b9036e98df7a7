"""Settings for the processes of the kill tests: the test settings, plus what a test passes
through the environment (a process cannot take ``override_settings``).

- ``KILLS_CLAIM_HOOK``: a directory; installs the claim hook of ``tests.kills.claimhook``.
- ``KILLS_EXECUTORS``: ``SCHEDULES_EXECUTORS`` as JSON.
- ``KILLS_LEASE_TTL``: ``SCHEDULES_LEASE_TTL`` (default 3, the processes' ``--lease-ttl``).
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.kills"]  # its jobs.py registers the kill tests' jobs

SCHEDULES_LEASE_TTL = float(os.environ.get("KILLS_LEASE_TTL", "3"))

if os.environ.get("KILLS_EXECUTORS"):
    SCHEDULES_EXECUTORS = json.loads(os.environ["KILLS_EXECUTORS"])

if os.environ.get("KILLS_CLAIM_HOOK"):
    from tests.kills import claimhook

    claimhook.install(os.environ["KILLS_CLAIM_HOOK"])
