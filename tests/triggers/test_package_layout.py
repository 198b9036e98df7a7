"""The trigger package's shape: no import cycle, no module over 600 lines, one registry."""

from __future__ import annotations

from pathlib import Path

import pytest

import django_schedules.triggers as triggers
from django_schedules.exceptions import TriggerError
from tests.layout_script import layout

PACKAGE = Path(triggers.__file__).parent
PREFIX = "django_schedules.triggers"


def trigger_graph() -> dict[str, set[str]]:
    """The package's import graph (scripts/layout.py: imports inside functions count, those
    under `if TYPE_CHECKING:` do not), cut down to the trigger modules."""
    graph = layout.graph(layout.modules())
    return {
        name: {t for t in targets if t.startswith(PREFIX)}
        for name, targets in graph.items()
        if name.startswith(PREFIX)
    }


def test_the_trigger_modules_import_each_other_without_a_cycle() -> None:
    # The package's __init__ counts like any other module.
    assert layout.cycles(trigger_graph()) == []


def test_base_imports_no_kind_nor_serialization_nor_describe() -> None:
    assert trigger_graph()[f"{PREFIX}.base"] <= {f"{PREFIX}._common"}


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
