"""Print the package's shape: each module's line count, the import cycles between its modules
and the imports that point up a layer.

    python scripts/layout.py            # the report; exits 1 when the shape is broken
    python scripts/layout.py --json     # the same facts as JSON

Every `import` and `from ... import` counts, at any depth (inside functions too), except those
under `if TYPE_CHECKING:`; imports by string (`import_module`, `import_string`) do not. An edge
goes to the module named: `from django_schedules import store` is an edge to
`django_schedules.store` when that is a module, else to the package `django_schedules`.
tests/test_layout.py asserts the same rules, so CI keeps the shape.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "django_schedules"
MAX_LINES = 600

# The layers, top to bottom: a module may import its own layer and those below it. A module is
# placed by the first prefix that matches its dotted name (without "django_schedules.").
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("edges", ("admin", "forms", "views", "urls", "metrics", "management", "checks", "apps")),
    ("faces", ("faces", "schedulers")),
    (
        "api",
        (
            "api",
            "options",
            "routing",
            "changes",
            "sync",
            "importers",
            "exports",
            "status",
            "listing",
            "backfill",
        ),
    ),
    (
        "engine",
        (
            "scheduler",
            "claiming",
            "bursts",
            "executors",
            "runner",
            "timeouts",
            "planner",
            "upkeep",
            "wakers",
            "starter",
            "timers",
            "tasks",
            "_spawn",
            "tracing",
            "groupcommit",
        ),
    ),
    ("store", ("store", "models", "querysets", "lease", "dbclock", "migrations")),
    ("registry", ("registry", "signals")),
    ("triggers", ("triggers",)),
    ("base", ("conf", "exceptions", "clock", "plans", "calendars", "__about__", "")),
]


def layer_of(module: str) -> int:
    name = module.removeprefix(PACKAGE).removeprefix(".")
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix == "" and name == "":
                return index
            if prefix and (
                name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "_")
            ):
                return index
    raise SystemExit(f"{module}: no layer; add it to LAYERS in scripts/layout.py")


def modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Yield the dotted names `tree` imports, at any depth, skipping `if TYPE_CHECKING:`."""
    base = module if is_package else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
                source = f"{anchor}.{node.module}" if node.module else anchor
            else:
                source = node.module or ""
            for alias in node.names:
                yield f"{source}.{alias.name}"  # a submodule, or a name in `source`
            yield source
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def graph(found: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        for target in _imports(tree, name, is_package):
            if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
                continue
            # The longest known module that `target` names (a name inside a module resolves
            # to the module); `from pkg import name` also yields `pkg`, so skip the package
            # when a submodule matched.
            while target not in found and "." in target:
                target = target.rpartition(".")[0]
            if target != name and target in found:
                edges[name].add(target)
    # `from x import y` yields both x.y and x: drop x when x.y is a module of x's.
    for name, targets in edges.items():
        for target in list(targets):
            if any(t.startswith(target + ".") for t in targets) and not _imports_names_of(
                found, name, target
            ):
                targets.discard(target)
    return edges


def _imports_names_of(found: dict[str, Path], name: str, target: str) -> bool:
    """Whether `name` takes a non-module name from `target` (so the edge to `target` is real)."""
    path = found[name]
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    base = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            anchor = base.rsplit(".", node.level - 1)[0] if node.level > 1 else base
            source = (
                (f"{anchor}.{node.module}" if node.module else anchor)
                if node.level
                else node.module
            )
            if source == target and any(f"{target}.{a.name}" not in found for a in node.names):
                return True
        elif isinstance(node, ast.Import) and any(a.name == target for a in node.names):
            return True
    return False


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer into a higher one, except a package's own __init__
    re-exporting its submodules."""
    bad = []
    for name, targets in sorted(edges.items()):
        for target in sorted(targets):
            if target.startswith(name + "."):
                continue
            if layer_of(target) < layer_of(name):
                bad.append((name, target))
    return bad


def line_counts(found: dict[str, Path]) -> dict[str, int]:
    return {name: len(path.read_text().splitlines()) for name, path in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT, help="a checkout (default: this one)")
    options = parser.parse_args()
    found = modules(options.root)
    edges = graph(found)
    counts = line_counts(found)
    facts = {
        "lines": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        "over": [n for n, c in counts.items() if c > MAX_LINES],
        "cycles": cycles(edges),
        "upward": upward(edges),
    }
    if options.json:
        print(json.dumps(facts, indent=2))
    else:
        print(f"{len(found)} modules, {sum(counts.values())} lines")
        for name, count in facts["lines"].items():
            flag = "  OVER" if count > MAX_LINES else ""
            print(f"  {count:5d}  {name}{flag}")
        print(f"cycles ({len(facts['cycles'])}):")
        for component in facts["cycles"]:
            print("  " + " <-> ".join(component))
        print(f"imports pointing up a layer ({len(facts['upward'])}):")
        for name, target in facts["upward"]:
            print(f"  {name} -> {target}")
    return 1 if facts["over"] or facts["cycles"] or facts["upward"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
