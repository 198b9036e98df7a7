"""The API layer points down: the sync imports the API, never the reverse, and the API imports
no edge (admin, forms, management), counting imports made inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import django_schedules

PACKAGE = Path(django_schedules.__file__).parent


def imported(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", ["api", "options", "changes"])
def test_the_api_layer_imports_neither_the_sync_nor_an_edge(module: str) -> None:
    above = ("sync", "admin", "forms", "management")
    assert not {
        name
        for name in imported(module)
        for part in above
        if name == f"django_schedules.{part}" or name.startswith(f"django_schedules.{part}.")
    }
