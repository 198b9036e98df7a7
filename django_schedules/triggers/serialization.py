"""trigger_from_dict: the reader of `to_dict()` output (format version 1).

The reader lives with the registry in `base`, since `BaseTrigger.__reduce__` needs it; each kind
reads its own fields (`BaseTrigger._from_fields`).
"""

from __future__ import annotations

from django_schedules.triggers.base import (
    FORMAT_VERSION,
    TRIGGER_KINDS,
    trigger_class,
    trigger_from_dict,
    trigger_kinds,
)

__all__ = ["FORMAT_VERSION", "TRIGGER_KINDS", "trigger_class", "trigger_from_dict", "trigger_kinds"]
