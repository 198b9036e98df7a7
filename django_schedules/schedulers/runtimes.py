"""The optional runtimes: each is an extra of the package, named in the error when missing."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise ImportError saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this scheduler needs {module}, which is not installed: "
            f'pip install "django-schedules[{extra}]"'
        ) from exc
