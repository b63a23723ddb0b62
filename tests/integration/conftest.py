"""A service on a fresh SQLite file; step functions come from `tests.integration.steps`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kflow.actions import KflowConfig
from kflow.runtime import Service
from kflow.store import SqliteStore
from tests.integration import steps


@pytest.fixture(params=["normal", "full"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """Both durabilities: `full` commits in a writer thread, `normal` on the loop."""
    steps.reset()
    store = SqliteStore(tmp_path / "k.db", request.param)
    yield Service(store, KflowConfig())
    store.close()
