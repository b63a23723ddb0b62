"""The slot accounting of a DAG run: idle slot-seconds while a step was ready, and not."""

from __future__ import annotations

import pytest

from bench.dags import Dag, Task
from bench.slots import SlotAccount
from kflow.engine import events as ev


def _started(at: float, step: str) -> ev.StepStarted:
    return ev.StepStarted(at=at, step=step, attempt=1)


def _succeeded(at: float, step: str) -> ev.StepSucceeded:
    return ev.StepSucceeded(at=at, step=step, attempt=1, output={})


def test_idle_slots_are_split_by_whether_a_step_was_ready() -> None:
    # a (1 s) -> b (1 s), and c (0.5 s), on 2 slots; execute runs from 100.0 to 102.4.
    dag = Dag("t", [Task("a", "k", 1.0), Task("c", "k", 0.5), Task("b", "k", 1.0, ("a",))])
    events: list[ev.AnyEvent] = [
        _started(100.1, "a"),  # both roots wait 0.1 s for the first start: 0.2 ready
        _started(100.1, "c"),
        _succeeded(100.6, "c"),  # a slot free until b is ready: 0.6 with none ready
        _succeeded(101.2, "a"),  # a late by 0.1 s; b ready, both slots free for 0.1 s
        _started(101.3, "b"),  # one slot idle with none ready for b's 1 s
        _succeeded(102.3, "b"),  # both slots free until the end, 0.1 s later
    ]

    account = SlotAccount.from_journal(events, dag, 2, 100.0, 102.4)

    assert account.idle_ready == pytest.approx(0.2 + 0.1)
    assert account.idle_none == pytest.approx(0.6 + 0.1 + 1.0 + 0.2)
    assert account.end == pytest.approx(0.1)
    busy = (100.6 - 100.1) + (101.2 - 100.1) + (102.3 - 101.3)
    assert busy + account.idle_ready + account.idle_none == pytest.approx(2 * 2.4)
    assert account.summary(2, 2.0) == pytest.approx(
        {"idle_ready_x": 0.3 / 4, "idle_none_x": 1.9 / 4, "end_ms": 100.0}
    )


def test_a_slot_freed_and_taken_at_one_instant_was_never_idle() -> None:
    dag = Dag("t", [Task("a", "k", 1.0), Task("b", "k", 1.0, ("a",))])
    events: list[ev.AnyEvent] = [
        _started(0.0, "a"),
        _succeeded(1.0, "a"),
        _started(1.0, "b"),
        _succeeded(2.0, "b"),
    ]

    account = SlotAccount.from_journal(events, dag, 1, 0.0, 2.0)

    assert (account.idle_ready, account.idle_none, account.end) == (0.0, 0.0, 0.0)
