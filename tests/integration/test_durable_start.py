"""In `full`, a run started by `Service.run` costs one fsync: its first commit carries its creation."""

from __future__ import annotations

from pathlib import Path

from kflow.plan import load_plan
from kflow.runtime import RunResult, Service, loop
from kflow.store.sqlite import SqliteStore
from tests.unit.store.test_sqlite import synchronous_of_each_commit

WORKFLOW = "steps:\n  - {id: a, action: noop}\n  - {id: b, action: noop, depends_on: [a]}\n"


def test_service_run_creates_without_an_fsync_of_its_own(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    service = Service(store)
    results: list[RunResult] = []
    commits = synchronous_of_each_commit(
        store, lambda: results.append(loop.run(service.run(load_plan(WORKFLOW, "t.yaml"))))
    )
    assert results[0].status == "succeeded"
    # The run's creation and its lease skip the fsync; the first start's commit (at the
    # store's FULL) makes them durable with it, before anyone could learn the run's id.
    assert commits[:3] == ["NORMAL", "NORMAL", "store"]
    assert commits[-1] == "NORMAL"  # the lease given back
    assert set(commits[3:-1]) == {"store"}
    store.close()


def test_service_create_is_durable_when_it_returns(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    service = Service(store)
    run_ids: list[str] = []
    commits = synchronous_of_each_commit(
        store, lambda: run_ids.append(loop.run(service.create(load_plan(WORKFLOW, "t.yaml"))))
    )
    assert commits == ["store"]  # its id is returned: its creation must survive power loss
    assert store.read(run_ids[0])
    store.close()
