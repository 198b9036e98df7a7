"""Ledger files of the fault and kill tests: lines appended outside the database, so a run
that happened twice shows even where the database recorded it once."""

from __future__ import annotations

import os


def append_line(path: str, line: str) -> None:
    """Append `line` to the file at `path` in one O_APPEND write: a short write lands whole,
    whichever thread or process writes it, so lines never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
