"""The worker: leases taken on adoption and given back once, when the runs have ended."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from typing import Any

import pytest

from kflow.engine import events as ev
from kflow.plan import load_plan
from kflow.runtime import Service
from kflow.runtime.worker import Worker
from kflow.store import MemoryStore
from kflow.store.protocol import Entry, Lease

WORKFLOW = """
steps:
  - {id: a, action: noop}
  - {id: b, action: noop, depends_on: [a]}
"""


class CountingStore(MemoryStore):
    """A store that notes each `release` call."""

    def __init__(self) -> None:
        super().__init__()
        self.releases: list[list[str]] = []

    def release(self, run_ids: Sequence[str], owner: str) -> None:
        self.releases.append(sorted(run_ids))
        super().release(run_ids, owner)


def test_runs_that_ended_give_their_leases_back_once() -> None:
    store = CountingStore()
    service = Service(store)
    plan = load_plan(WORKFLOW, "test.yaml")

    async def scenario() -> list[str]:
        ids = await service.create_many(plan, [{}, {}])
        await service.execute(ids)
        return ids

    ids = asyncio.run(scenario())
    assert store.releases == [sorted(ids)]
    assert store.leases_of(ids) == {}


def test_a_worker_left_before_its_runs_ended_gives_their_leases_back() -> None:
    store = CountingStore()
    service = Service(store)
    plan = load_plan("steps:\n  - {id: a, action: sleep, inputs: {seconds: 60}}\n", "test.yaml")

    async def scenario() -> str:
        (run_id,) = await service.create_many(plan, [{}])
        async with Worker(store) as worker:
            worker.adopt([run_id])
            assert store.leases_of([run_id])  # held while it runs
        return run_id

    run_id = asyncio.run(scenario())
    assert store.releases == [[run_id]]
    assert store.leases_of([run_id]) == {}


def test_a_run_adopted_again_after_its_wait_is_released_on_exit() -> None:
    store = CountingStore()
    service = Service(store)
    plan = load_plan(WORKFLOW, "test.yaml")

    async def scenario() -> str:
        (run_id,) = await service.create_many(plan, [{}])
        async with Worker(store) as worker:
            worker.adopt([run_id])
            await worker.wait([run_id])  # gives the lease back
            worker.adopt([run_id])  # takes it again
        return run_id

    run_id = asyncio.run(scenario())
    assert store.releases == [[run_id], [run_id]]
    assert store.leases_of([run_id]) == {}


class SlowStore(CountingStore):
    """A store that says its commits wait for the disk (durability `full`)."""

    slow_commits = True


@pytest.mark.parametrize(
    ("store_type", "runs", "committed_at_once"),
    [(CountingStore, 1, True), (CountingStore, 2, False), (SlowStore, 2, True)],
)
def test_adopting_one_run_or_in_full_commits_the_first_starts_at_once(
    store_type: type[CountingStore], runs: int, committed_at_once: bool
) -> None:
    store = store_type()
    service = Service(store)
    plan = load_plan(WORKFLOW, "test.yaml")

    async def scenario() -> list[list[str]]:
        ids = await service.create_many(plan, [{}] * runs)
        async with Worker(store) as worker:
            worker.adopt(ids)
            kinds = [[type(e).__name__ for e in store.read(r)] for r in ids]
            await worker.wait(ids)
        return kinds

    expected = ["RunCreated", "StepStarted"] if committed_at_once else ["RunCreated"]
    assert asyncio.run(scenario()) == [expected] * runs


class ReadCountingStore(MemoryStore):
    """A store that notes which runs' journals and leases were read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def read_runs(self, run_ids: Sequence[str]) -> dict[str, list[ev.AnyEvent]]:
        self.reads += [f"journal {r}" for r in run_ids]
        return super().read_runs(run_ids)

    def leases_of(self, run_ids: Sequence[str]) -> dict[str, Lease]:
        self.reads += [f"lease {r}" for r in run_ids]
        return super().leases_of(run_ids)


def test_runs_made_by_service_run_are_driven_without_reading_them_back() -> None:
    store = ReadCountingStore()
    service = Service(store)
    plan = load_plan(WORKFLOW, "test.yaml")

    async def scenario() -> tuple[str, list[str]]:
        (older,) = await service.create_many(plan, [{}])
        results = await service.run_many(plan, [{}, {}])
        assert [r.status for r in results] == ["succeeded", "succeeded"]
        await service.execute([older])  # created earlier: read as usual
        return older, store.reads

    older, reads = asyncio.run(scenario())
    assert reads == [f"lease {older}", f"journal {older}"]
    kinds = {tuple(type(e).__name__ for e in events) for events in store.journals.values()}
    assert len(store.journals) == 3 and len(kinds) == 1  # the same journal for each run


seen: list[Any] = []


def keep(x: Any) -> None:
    """A step that keeps what it was given, and changes it."""
    seen.append(copy.deepcopy(x))
    if isinstance(x, list):
        x.append("changed by the step")


TAKES_ANY = """
inputs:
  - {name: x, type: any}
steps:
  - {id: a, action: "tests.unit.runtime.test_worker:keep", inputs: {x: $inputs.x}}
"""


def test_a_run_made_by_service_run_sees_its_inputs_as_a_replay_would() -> None:
    service = Service(MemoryStore())
    plan = load_plan(TAKES_ANY, "test.yaml")
    given: dict[str, Any] = {"x": [1, 2]}
    seen.clear()

    async def scenario() -> None:
        await service.run(plan, {"x": (1, 2)})
        await service.run(plan, {"x": {1: "a"}})
        await service.run(plan, given)

    asyncio.run(scenario())
    assert seen[:2] == [[1, 2], {"1": "a"}]  # as JSON has them
    assert given == {"x": [1, 2]}  # the caller's list was not the step's


def test_runs_created_here_cannot_be_adopted_without_their_definitions() -> None:
    created = ev.RunCreated(
        at=1.0, run_id="r", workflow_id="w", version="1", digest="d", inputs={}, max_concurrency=1
    )
    entry = Entry("r", 0, created, ev.encode(created))

    async def scenario() -> None:
        async with Worker(MemoryStore()) as worker:
            worker.adopt(["r"], [entry])

    with pytest.raises(ValueError, match="runs created here need the definitions"):
        asyncio.run(scenario())
