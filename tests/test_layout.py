"""The package keeps its shape (docs/architecture.md): modules stay small, no module imports
another that imports it back (imports inside functions count), and no import points up a layer.
`python scripts/layout.py` prints the same facts."""

from __future__ import annotations

from tests.layout_script import layout


def test_no_module_is_over_the_line_limit() -> None:
    counts = layout.line_counts(layout.modules())
    assert {n: c for n, c in counts.items() if c > layout.MAX_LINES} == {}


def test_no_modules_import_each_other_in_a_cycle() -> None:
    assert layout.cycles(layout.graph(layout.modules())) == []


def test_no_import_points_up_a_layer() -> None:
    assert layout.upward(layout.graph(layout.modules())) == []


def test_the_checker_sees_an_import_inside_a_function_and_skips_type_checking(tmp_path) -> None:
    package = tmp_path / "django_schedules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from django_schedules import admin\n"
        "def f():\n    from django_schedules.scheduler import Scheduler\n"
    )
    (package / "scheduler.py").write_text("from django_schedules import store\n")
    (package / "admin.py").write_text("")
    edges = layout.graph(layout.modules(tmp_path))
    assert edges["django_schedules.store"] == {"django_schedules.scheduler"}
    assert layout.cycles(edges) == [["django_schedules.scheduler", "django_schedules.store"]]
    assert layout.upward(edges) == [("django_schedules.store", "django_schedules.scheduler")]


def test_the_cycle_finder_finds_each_cycle_once() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert layout.cycles(graph) == [["a", "b", "c"]]
