"""django-schedules: scheduled jobs for Django.

The public API is exported lazily (PEP 562), so ``import django_schedules.triggers`` imports
neither Django's models nor settings.
"""

from __future__ import annotations

from typing import Any

from django_schedules.__about__ import __version__

__all__ = ["__version__"]

# name -> module that defines it; filled in as the API grows.
_LAZY: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'django_schedules' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY])
