"""A module of the test app that is importable but registers nothing.

The scheduler must never import it, let alone run ``payload``: a schedule row naming it was
written behind the API's back. Importing it, or running ``payload``, leaves a mark in the file
that ``SCHEDULES_IMPORT_PROBE`` names, so a test in another process can tell.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROBE = os.environ.get("SCHEDULES_IMPORT_PROBE")
if _PROBE:
    with Path(_PROBE).open("a") as probe:
        probe.write("imported\n")


def payload() -> str:
    """Leave a second mark: proof that it ran."""
    if _PROBE:
        with Path(_PROBE).open("a") as probe:
            probe.write("ran\n")
    return "ran"
