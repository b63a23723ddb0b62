"""In `full`, a run started by `Service.run` costs one fsync: its first commit carries its creation."""

from __future__ import annotations

from pathlib import Path

from kflow.plan import load_plan
from kflow.runtime import Service, loop
from kflow.store.sqlite import SqliteStore

WORKFLOW = "steps:\n  - {id: a, action: noop}\n  - {id: b, action: noop, depends_on: [a]}\n"


def _commits(store: SqliteStore) -> list[str]:
    """Each commit's synchronous level from now on ("FULL" or "NORMAL")."""
    level, commits = "FULL", []

    def trace(statement: str) -> None:
        nonlocal level
        if statement.startswith("PRAGMA synchronous = "):
            level = statement.rsplit(" ", 1)[1]
        elif statement == "COMMIT":
            commits.append(level)

    store._db.set_trace_callback(trace)
    return commits


def test_service_run_creates_without_an_fsync_of_its_own(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    service = Service(store)
    commits = _commits(store)
    result = loop.run(service.run(load_plan(WORKFLOW, "t.yaml")))
    assert result.status == "succeeded"
    # The run's creation and its lease skip the fsync; the first start's commit
    # (FULL) makes them durable with it, before anyone could learn the run's id.
    assert commits[:3] == ["NORMAL", "NORMAL", "FULL"]
    assert commits[-1] == "NORMAL"  # the lease given back
    assert commits[3:-1] == ["FULL"] * len(commits[3:-1])
    store.close()


def test_service_create_is_durable_when_it_returns(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    service = Service(store)
    commits = _commits(store)
    run_id = loop.run(service.create(load_plan(WORKFLOW, "t.yaml")))
    assert commits == ["FULL"]  # its id is returned: its creation must survive power loss
    assert store.read(run_id)
    store.close()
