"""A service on a fresh SQLite file; step functions come from `tests.integration.steps`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kflow.actions import KflowConfig
from kflow.runtime import Service
from kflow.store import SqliteStore
from tests.integration import steps


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    steps.reset()
    store = SqliteStore(tmp_path / "k.db")
    yield Service(store, KflowConfig())
    store.close()
