"""``manage.py exportschedules``: every schedule as a document on standard output.

JSON by default, YAML with ``--format yaml`` (PyYAML needed); ``importschedules --file`` reads
either back. The format is ``django_schedules.exports``'s, described in docs/export-import.md.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules import store
from django_schedules.exports import export_document

YAML_MISSING = (
    "--format yaml needs PyYAML, which is not installed: pip install PyYAML "
    "(or use the default --format json)"
)


def yaml_module() -> Any:
    """PyYAML, or a CommandError naming the package to install."""
    try:
        import yaml
    except ImportError as exc:
        raise CommandError(YAML_MISSING) from exc
    return yaml


class Command(BaseCommand):
    help = (
        "Write every schedule (its options and its trigger in stored form) to standard "
        "output, as JSON or YAML; importschedules --file reads it back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("json", "yaml"), default="json")

    def handle(self, *args: Any, **options: Any) -> None:
        dump = yaml_module().safe_dump if options["format"] == "yaml" else None
        document = export_document(store.all_schedules(), store.all_calendars())
        if dump is not None:
            self.stdout.write(dump(document, sort_keys=False, allow_unicode=True), ending="")
        else:
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
        count = len(document["schedules"])
        self.stderr.write(f"Exported {count} schedule{'' if count == 1 else 's'}.")
