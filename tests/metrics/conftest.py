from __future__ import annotations

from tests.engine.conftest import _reset_jobs, clock

__all__ = ["_reset_jobs", "clock"]
