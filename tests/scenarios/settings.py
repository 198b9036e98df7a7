"""Settings for the `runscheduler` processes of the scenario tests: the test settings, plus
what a scenario passes through the environment (a process cannot take ``override_settings``).

- ``SCENARIO_JOBS``: ``SCHEDULES_JOBS`` as JSON.
- ``SCENARIO_EXECUTORS``: ``SCHEDULES_EXECUTORS`` as JSON.
- ``SCENARIO_MAX_CATCH_UP``: ``SCHEDULES_MAX_CATCH_UP``.
- ``SCENARIO_QUERY_LOG``: a file that receives one line per SQL statement, ``<time>|<sql>``.
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403

if os.environ.get("SCENARIO_JOBS"):
    SCHEDULES_JOBS = json.loads(os.environ["SCENARIO_JOBS"])

if os.environ.get("SCENARIO_EXECUTORS"):
    SCHEDULES_EXECUTORS = json.loads(os.environ["SCENARIO_EXECUTORS"])

if os.environ.get("SCENARIO_MAX_CATCH_UP"):
    SCHEDULES_MAX_CATCH_UP = int(os.environ["SCENARIO_MAX_CATCH_UP"])

if os.environ.get("SCENARIO_QUERY_LOG"):
    # Django logs each statement to django.db.backends only with DEBUG on.
    DEBUG = True
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": "%(created)f|%(message)s"}},
        "handlers": {
            "queries": {
                "class": "logging.FileHandler",
                "filename": os.environ["SCENARIO_QUERY_LOG"],
                "formatter": "line",
            }
        },
        "loggers": {
            "django.db.backends": {"handlers": ["queries"], "level": "DEBUG", "propagate": False}
        },
    }

    # And one line per new database connection: an idle loop should keep the one it has.
    import logging

    from django.db.backends.signals import connection_created

    def _log_connection(sender: object, connection: object, **kwargs: object) -> None:
        alias = getattr(connection, "alias", "?")
        logging.getLogger("django.db.backends").debug("CONNECT %s", alias)

    connection_created.connect(_log_connection, weak=False)
