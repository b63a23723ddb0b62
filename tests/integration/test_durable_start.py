"""In `full`, a run started by `Service.run` costs one fsync: its first commit carries its creation."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from kflow.plan import load_plan
from kflow.runtime import Service, loop
from kflow.store.sqlite import SqliteStore
from tests.unit.store.test_sqlite import synchronous_of_each_commit

T = TypeVar("T")
WORKFLOW = "steps:\n  - {id: a, action: noop}\n  - {id: b, action: noop, depends_on: [a]}\n"


def _traced(
    tmp_path: Path, call: Callable[[Service], Coroutine[Any, Any, T]]
) -> tuple[T, list[str], SqliteStore]:
    """What `call` returned on a `full` store, and each of its commits' synchronous level."""
    store = SqliteStore(tmp_path / "k.db", durability="full")
    service = Service(store)
    returned: list[T] = []
    commits = synchronous_of_each_commit(store, lambda: returned.append(loop.run(call(service))))
    return returned[0], commits, store


def test_service_run_creates_without_an_fsync_of_its_own(tmp_path: Path) -> None:
    result, commits, store = _traced(tmp_path, lambda s: s.run(load_plan(WORKFLOW, "t.yaml")))
    assert result.status == "succeeded"
    # The run's creation and its lease skip the fsync; the first start's commit (at the
    # store's FULL) makes them durable with it, before anyone could learn the run's id.
    assert commits[:3] == ["NORMAL", "NORMAL", "store"]
    assert commits[-1] == "NORMAL"  # the lease given back
    assert set(commits[3:-1]) == {"store"}
    store.close()


def test_service_create_is_durable_when_it_returns(tmp_path: Path) -> None:
    run_id, commits, store = _traced(tmp_path, lambda s: s.create(load_plan(WORKFLOW, "t.yaml")))
    assert commits == ["store"]  # its id is returned: its creation must survive power loss
    assert store.read(run_id)
    store.close()
