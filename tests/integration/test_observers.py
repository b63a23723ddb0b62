"""Observers see every event of a run once it is committed, in the journal's order."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.plan import load_plan
from kflow.runtime import Service, loop
from kflow.store.sqlite import Durability, SqliteStore

WORKFLOW = """
engine: {max_concurrency: 3}
steps:
  - {id: a, action: noop}
  - {id: b, action: sleep, inputs: {seconds: 0.01}, depends_on: [a]}
  - {id: c, action: sleep, inputs: {seconds: 0.02}, depends_on: [a]}
  - {id: d, action: noop, depends_on: [a]}
  - {id: e, action: echo, inputs: {x: 1}, depends_on: [b, c, d]}
"""


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_observers_see_every_event_once_committed_in_the_journals_order(
    tmp_path: Path, durability: Durability
) -> None:
    store = SqliteStore(tmp_path / "k.db", durability=durability)
    seen: list[tuple[str, ev.AnyEvent]] = []
    stored_when_seen: list[bool] = []

    def observe(machine: RunMachine, event: ev.AnyEvent) -> None:
        run_id = machine.state.run_id
        seen.append((run_id, event))
        stored_when_seen.append(event in store.read(run_id))

    plan = load_plan(WORKFLOW, "t.yaml")
    results = loop.run(Service(store).run_many(plan, [{}] * 4, observers=[observe]))
    assert all(r.status == "succeeded" for r in results)
    assert all(stored_when_seen)  # never told of an event a crash could still lose
    for result in results:  # every event after the run's creation, once each, in order
        stored = store.read(result.run_id)
        assert [e for r, e in seen if r == result.run_id] == stored[1:]
    # Across runs too: the events were recorded (and appended) in time order.
    moments = [event.at for _, event in seen]
    assert moments == sorted(moments)
    store.close()


def test_a_broken_observer_is_dropped_and_the_others_still_see_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(tmp_path / "k.db")
    seen: list[ev.AnyEvent] = []
    calls: list[ev.AnyEvent] = []

    def broken(machine: RunMachine, event: ev.AnyEvent) -> None:
        calls.append(event)
        raise BrokenPipeError("progress printed into a closed pipe")

    def observe(machine: RunMachine, event: ev.AnyEvent) -> None:
        seen.append(event)

    with caplog.at_level(logging.WARNING):
        plan = load_plan(WORKFLOW, "t.yaml")
        result = loop.run(Service(store).run(plan, observers=[broken, observe]))
    assert result.status == "succeeded"
    assert seen == store.read(result.run_id)[1:]
    assert len(calls) == 1  # dropped at its first failure
    assert "stopped calling observer" in caplog.text
    assert "BrokenPipeError: progress printed into a closed pipe" in caplog.text
    store.close()
