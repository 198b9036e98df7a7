"""scripts/layout.py, loaded as a module for the tests that check the package's shape."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "layout", Path(__file__).resolve().parent.parent / "scripts" / "layout.py"
)
assert _spec is not None and _spec.loader is not None
layout = importlib.util.module_from_spec(_spec)
sys.modules["layout"] = layout
_spec.loader.exec_module(layout)
