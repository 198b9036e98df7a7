"""Nothing read from the database is ever unpickled or evaluated: arguments, triggers and
results are JSON or text, and the package has no way to turn stored bytes into code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.test import override_settings

import django_schedules
from django_schedules import job
from django_schedules.executors import run_execution_now
from django_schedules.models import Execution, ExecutionStatus, Schedule

PACKAGE = Path(django_schedules.__file__).parent
SERIALIZERS = {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle"}
SERIALIZERS |= {"jsonpickle", "yaml", "copyreg"}
EVALUATORS = {"eval", "exec", "compile", "__import__"}
# The one serializer import, with its reason: PyYAML for exportschedules/importschedules
# --format yaml, used only through safe_load and safe_dump (checked below) on the file the
# operator names, never on a row.
SAFE_YAML_IMPORTS = {
    (
        "management/commands/exportschedules.py",
        "yaml",
    ): "safe_load/safe_dump of the operator's file",
}
# Every place the package imports by a name known only at run time, and where the name comes
# from: a new one must be added here, with its reason, after checking it never reads a row.
DYNAMIC_IMPORTS = {
    ("__init__.py", "import_module"): "the lazy public names: a fixed table in the module",
    ("executors/base.py", "import_string"): "SCHEDULES_EXECUTORS backends: settings, not a row",
}


def package_sources() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def test_the_package_imports_no_serializer_that_runs_code() -> None:
    found = []
    for name, tree in package_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            found += [(name, m) for m in modules if m.split(".")[0] in SERIALIZERS]
    assert found == list(SAFE_YAML_IMPORTS)


def test_yaml_is_read_and_written_only_with_its_safe_functions() -> None:
    """PyYAML's ``load``/``full_load`` build any Python object a document names: the package
    touches the module (``yaml``, or what ``yaml_module()`` returns) only for ``safe_load``,
    ``safe_dump`` and its error class."""

    def is_yaml(node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            return called_name(node) == "yaml_module"
        return isinstance(node, ast.Name) and node.id == "yaml"

    used = {
        (name, node.attr)
        for name, tree in package_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and is_yaml(node.value)
    }
    assert {attr for _name, attr in used} == {"safe_load", "safe_dump", "YAMLError"}, used


def test_the_package_never_evaluates_and_imports_by_name_only_from_settings() -> None:
    evaluated, dynamic = [], set()
    for name, tree in package_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = called_name(node)
                if called in EVALUATORS and isinstance(node.func, ast.Name):
                    evaluated.append((name, node.lineno, called))
                if called in ("import_module", "import_string", "locate"):
                    dynamic.add((name, called))
    assert evaluated == []
    assert dynamic == set(DYNAMIC_IMPORTS)


def test_the_walk_would_see_a_banned_call() -> None:
    # The control for the two tests above.
    tree = ast.parse("import pickle\nfrom yaml import load\neval(row.result)\n")
    calls = [called_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert calls == ["eval"] and len(imports) == 2


def test_stored_job_data_is_json_or_text_never_bytes() -> None:
    for model in apps.get_app_config("django_schedules").get_models():
        for field in model._meta.get_fields():
            assert not isinstance(field, models.BinaryField), (model, field.name)
    schedule_fields = {f.name: f for f in Schedule._meta.get_fields()}
    for name in ("args", "kwargs", "trigger"):
        assert isinstance(schedule_fields[name], models.JSONField), name
    execution_fields = {f.name: f for f in Execution._meta.get_fields()}
    for name in ("result", "traceback", "reason"):
        assert isinstance(execution_fields[name], models.TextField | models.CharField), name


class Hostile:
    """A result that is not JSON, with markup in its repr and a pickle hook that must not run."""

    reduced = False

    def __repr__(self) -> str:
        return "<script>alert(1)</script>" + "x" * 5000

    def __reduce__(self) -> tuple[object, ...]:
        type(self).reduced = True
        raise AssertionError("a result was pickled")


@job
def returns_an_object() -> Hostile:
    """Return something JSON cannot hold."""
    return Hostile()


@pytest.mark.django_db
@override_settings(SCHEDULES_RESULT_MAX_CHARS=300)
def test_a_result_that_is_not_json_is_stored_as_its_capped_repr() -> None:
    django_schedules.add_job(returns_an_object, "interval", id="object", hours=1)
    execution = django_schedules.run_job_now("object")
    assert run_execution_now(execution.pk) == ExecutionStatus.SUCCEEDED
    execution.refresh_from_db()
    assert execution.result == repr(Hostile())[:299] + "…"
    assert not Hostile.reduced
