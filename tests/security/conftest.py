from __future__ import annotations

# The admin tests' users, jobs and client factory, for the permission and escaping tests here.
from tests.admin.conftest import (  # noqa: F401
    client_for,
    editor,
    outsider,
    runner,
    superuser,
    viewer,
)
