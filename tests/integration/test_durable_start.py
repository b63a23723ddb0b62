"""A run started by `Service.run` is stored with its first starts: one transaction, one fsync."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.errors import StoreError
from kflow.plan import load_plan
from kflow.runtime import RunResult, Service, loop
from kflow.store import Entry, MemoryStore
from kflow.store.protocol import Lease
from kflow.store.sqlite import SqliteStore
from tests.integration import steps
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


def test_service_run_stores_a_run_its_lease_and_first_start_in_one_transaction(
    tmp_path: Path,
) -> None:
    held: list[Lease | None] = []

    def run(service: Service) -> Coroutine[Any, Any, RunResult]:
        def observe(machine: RunMachine, event: ev.AnyEvent) -> None:
            if not held:  # the first start is committed: the run and its lease are too
                held.append(service.store.lease(machine.state.run_id))

        return service.run(load_plan(WORKFLOW, "t.yaml"), observers=[observe])

    result, commits, store = _traced(tmp_path, run)
    assert result.status == "succeeded"
    # No transaction before the one that stores the run with its lease and first start
    # (at the store's FULL), before anyone could learn the run's id or any action ran.
    assert commits[-1] == "NORMAL"  # the lease given back, without an fsync
    assert set(commits[:-1]) == {"store"}
    [lease] = held
    assert lease is not None and lease.run_id == result.run_id
    assert store.lease(result.run_id) is None  # given back at the end
    store.close()


class _Recording(MemoryStore):
    """A store that keeps the events of each `append`, and can fail the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[list[type[ev.Event]]] = []
        self.lease_batches: list[list[str]] = []
        self.fail_next = False

    def append(self, entries: Sequence[Entry], *args: Any, **kwargs: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreError("disk full")
        held = set(self.leases)
        super().append(entries, *args, **kwargs)
        self.appends.append([type(entry.event) for entry in entries])
        self.lease_batches.append(sorted(set(self.leases) - held))


def test_service_run_stores_its_runs_with_their_first_starts() -> None:
    store = _Recording()
    service = Service(store)
    results = loop.run(service.run_many(load_plan(WORKFLOW, "t.yaml"), [{}, {}]))
    assert [r.status for r in results] == ["succeeded", "succeeded"]
    assert store.appends[0] == [ev.RunCreated, ev.RunCreated, ev.StepStarted, ev.StepStarted]
    assert store.lease_batches[0] == sorted(r.run_id for r in results)  # with their leases
    assert all(ev.RunCreated not in events for events in store.appends[1:])
    assert store.definition(service.load(load_plan(WORKFLOW, "t.yaml")).digest)


def test_runs_whose_first_commit_fails_are_not_stored_and_run_nothing() -> None:
    steps.reset()
    store = _Recording()
    service = Service(store)
    probe = '{id: a, action: "tests.integration.steps:probe", inputs: {seconds: 0.01}}'
    workflow = load_plan(WORKFLOW.replace("{id: a, action: noop}", probe), "t.yaml")
    store.fail_next = True
    # Two runs: one alone would be committed at once anyway (`len(adopted) == 1`).
    with pytest.raises(StoreError, match="disk full"):
        loop.run(service.run_many(workflow, [{}, {}]))
    assert store.appends == [] and store.journals == {}
    assert store.leases == {}  # taken in the commit that failed: never held
    assert steps.peak == 0  # no first step's action began


def test_service_create_is_durable_when_it_returns(tmp_path: Path) -> None:
    run_id, commits, store = _traced(tmp_path, lambda s: s.create(load_plan(WORKFLOW, "t.yaml")))
    assert commits == ["store"]  # its id is returned: its creation must survive power loss
    assert store.read(run_id)
    store.close()
