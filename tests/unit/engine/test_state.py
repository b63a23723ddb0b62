"""`StepStates`: step states made on first use, yet whole to every reader of the whole."""

from __future__ import annotations

import pytest

from kflow.engine import commands as cmd
from kflow.engine.state import StepState, StepStates, StepStatus
from tests.unit.engine.plans import DIAMOND, new_machine, plan_of

WAITING = {"a": 0, "b": 1, "c": 1, "d": 2}


def test_a_state_is_made_when_first_looked_up_and_kept() -> None:
    steps = StepStates(WAITING)
    assert list(steps.made()) == []
    c = steps["c"]
    assert (c.id, c.waiting, c.status) == ("c", 1, StepStatus.PENDING)
    assert steps["c"] is c
    assert [s.id for s in steps.made()] == ["c"]


def test_an_unknown_step_is_a_key_error() -> None:
    steps = StepStates(WAITING)
    with pytest.raises(KeyError, match="nope"):
        steps["nope"]
    assert steps.get("nope") is None
    assert list(steps.made()) == []


def test_len_and_in_count_every_step_without_making_any() -> None:
    steps = StepStates(WAITING)
    assert len(steps) == 4
    assert "d" in steps and "x" not in steps
    assert list(steps.made()) == []


def test_reading_the_whole_sees_every_step_in_the_plans_order() -> None:
    steps = StepStates(WAITING)
    d, b = steps["d"], steps["b"]
    d.waiting = 0
    assert list(steps) == ["a", "b", "c", "d"]
    assert [s.id for s in steps.values()] == ["a", "b", "c", "d"]
    assert steps["d"] is d and steps["b"] is b and d.waiting == 0
    assert [k for k, _ in steps.items()] == list(steps.keys()) == ["a", "b", "c", "d"]
    assert list(reversed(steps)) == ["d", "c", "b", "a"]


def test_equality_and_copies_compare_every_step() -> None:
    one, two = StepStates(WAITING), StepStates(WAITING)
    one["a"]
    assert one == two
    two["b"].status = StepStatus.READY
    assert one != two
    plain = one.copy()
    assert type(plain) is dict and list(plain) == ["a", "b", "c", "d"]
    assert plain == {k: StepState(k, n) for k, n in WAITING.items()}


def test_a_new_run_makes_the_states_of_its_first_steps_only() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 5})
    assert [s.id for s in machine.state.steps.made()] == ["a"]
    assert len(machine.state.steps) == 4


def test_a_root_ready_as_written_is_made_ready_with_its_task_queued() -> None:
    inputs = {"seconds": 0.5}
    steps = StepStates(WAITING, {"a": inputs})
    a = steps["a"]
    assert (a.status, a.inputs, len(a.tasks)) == (StepStatus.READY, inputs, 1)
    assert a.inputs is not inputs  # a copy: an action may change what it was given
    assert a.tasks[0].queued and a.tasks[0].status is StepStatus.READY
    fresh = StepStates(WAITING, {"a": inputs})
    assert next(iter(fresh.values())) == a  # made the same way when read as a whole


PLAIN_ROOTS = """
id: roots
inputs:
  - {name: n, type: integer}
steps:
  - {id: short, action: sleep, inputs: {seconds: 0.01}}
  - {id: long, action: sleep, inputs: {seconds: 0.01}}
  - {id: rendered, action: echo, inputs: {value: $inputs.n}}
  - {id: after, action: noop, depends_on: [long, rendered]}
"""


def test_plain_roots_start_in_rank_order_without_their_states_made_first() -> None:
    plan = plan_of(PLAIN_ROOTS)
    assert list(plan.plain_roots) == ["long", "short"]  # `long` leads to `after`
    machine = new_machine(plan, {"n": 1}, concurrency=8)
    assert [s.id for s in machine.state.steps.made()] == ["rendered"]
    started = [c.step for c in machine.decide(0.0) if isinstance(c, cmd.Start)]
    assert started == ["long", "rendered", "short"]
