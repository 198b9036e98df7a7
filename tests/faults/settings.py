"""Settings of the `runscheduler` processes of the fault tests: the test settings, this package
as an app (its ``jobs.py`` registers the ledger job), and the fault injector when
``FAULTS_RATE`` is set (``tests/faults/injector.py``)."""

from __future__ import annotations

import os

from django.db.backends.signals import connection_created

from tests.faults.injector import from_environment
from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.faults"]

if os.environ.get("FAULTS_SQLITE_TIMEOUT") and "sqlite" in DATABASES["default"]["ENGINE"]:
    # The busy timeout the lock case runs with (Django's default is 5 s; tests.settings has 20).
    DATABASES["default"]["OPTIONS"]["timeout"] = float(os.environ["FAULTS_SQLITE_TIMEOUT"])

_injector = from_environment()
if _injector is not None:

    def _install(sender: object, connection: object, **kwargs: object) -> None:
        _injector.install(connection)  # type: ignore[arg-type]

    connection_created.connect(_install, weak=False)
