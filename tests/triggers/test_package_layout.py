"""The trigger package's shape: no import cycle, no module over 600 lines, one registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import django_schedules.triggers as triggers
from django_schedules.exceptions import TriggerError

PACKAGE = Path(triggers.__file__).parent
PREFIX = "django_schedules.triggers"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join((PREFIX, *parts)).removesuffix(".__init__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Every module imported at any depth, imports under `if TYPE_CHECKING:` left out."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {m for m in _imports(tree, package) if m in paths and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return one cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_the_trigger_modules_import_each_other_without_a_cycle() -> None:
    # Imports inside functions count; the package's __init__ counts like any other module.
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_base_imports_no_kind_nor_serialization_nor_describe() -> None:
    assert import_graph()[f"{PREFIX}.base"] <= {f"{PREFIX}._common"}


def test_no_trigger_module_is_over_600_lines() -> None:
    long = {
        path.name: n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 600
    }
    assert long == {}


def test_every_kind_is_registered_once_with_its_facts() -> None:
    assert triggers.trigger_kinds() == ("date", "interval", "cron", "calendarinterval", "and", "or")
    zoned = {kind for kind, cls in triggers.TRIGGER_KINDS.items() if cls.zoned}
    assert zoned == {"date", "interval", "cron", "calendarinterval"}
    composite = {kind for kind, cls in triggers.TRIGGER_KINDS.items() if cls.composite}
    assert composite == {"and", "or"}
    for kind, cls in triggers.TRIGGER_KINDS.items():
        assert cls.kind == kind and triggers.trigger_class(kind) is cls


@pytest.mark.parametrize("kind", ["weekly", 3, None])
def test_trigger_class_names_an_unknown_kind(kind: object) -> None:
    with pytest.raises(TriggerError, match=f"Bad kind {kind!r} in trigger dict: known kinds are"):
        triggers.trigger_class(kind)


def test_from_dict_on_a_class_reads_its_own_kind_only() -> None:
    trigger = triggers.IntervalTrigger(minutes=5)
    assert triggers.IntervalTrigger.from_dict(trigger.to_dict()) == trigger
    assert triggers.BaseTrigger.from_dict(trigger.to_dict()) == trigger
    with pytest.raises(TriggerError, match="expected kind 'cron'"):
        triggers.CronTrigger.from_dict(trigger.to_dict())
