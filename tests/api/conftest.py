from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.databases import snapshot


@pytest.fixture
def unchanged_db() -> Callable[[], None]:
    """Call the returned function after a failing API call: the tables must be as they were."""
    before = snapshot()

    def check() -> None:
        assert snapshot() == before

    return check
