#!/usr/bin/env python
"""The example project's command-line utility."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    # Let the example run from a checkout without installing the app: the repo root holds
    # django_schedules/.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
