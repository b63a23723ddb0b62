"""Properties of the state machine over random graphs and random orders of completion."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kflow.engine import commands as cmd
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.engine.state import StepStatus
from kflow.plan import Plan
from tests.unit.engine.plans import new_machine, plan_of


@st.composite
def dags(draw: st.DrawFn, continuing: bool = False) -> Plan:
    """A random DAG of echo steps, each passing its dependencies' values on.

    With `continuing`, some steps have `on_failure: continue`, some a fallback.
    """
    count = draw(st.integers(2, 9))
    lines = [
        "engine: {retry_attempts: 1000}",
        "outputs: [{name: last, from: $steps.s%d.value}]" % (count - 1),
        "steps:",
    ]
    for i in range(count):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        inputs = ", ".join([f"value: {i}"] + [f"d{d}: $steps.s{d}.value" for d in sorted(deps)])
        fan = draw(st.booleans()) and i > 0
        policy = ", on_failure: continue" if continuing and draw(st.booleans()) else ""
        policy += ", fallback: echo" if continuing and draw(st.booleans()) else ""
        if fan:
            inputs += ", items: [1, 2, 3]"
            lines.append(
                f"  - {{id: s{i}, action: echo, parallel: {{over: items}}, "
                f"inputs: {{{inputs}}}, outputs: {{value: value}}{policy}}}"
            )
        else:
            lines.append(
                f"  - {{id: s{i}, action: echo, inputs: {{{inputs}}}, "
                f"outputs: {{value: value}}{policy}}}"
            )
    return plan_of("\n".join(lines))


def snapshot(machine: RunMachine) -> dict[str, Any]:
    """What must be equal between two runs of the same plan."""
    state = machine.state
    return {
        "status": state.status,
        "outputs": state.outputs,
        "error": state.error,
        "steps": {s.id: (s.status, s.output, s.error) for s in state.steps.values()},
    }


def check_invariants(machine: RunMachine, extra: int = 0) -> None:
    """`extra`: attempts a journal may show running past the limit (see `RunMachine.vacate`)."""
    state = machine.state
    running = sum(t.status is StepStatus.RUNNING for s in state.steps.values() for t in s.tasks)
    assert running == state.running <= state.max_concurrency + extra
    for step in state.steps.values():
        assert step.running == sum(t.status is StepStatus.RUNNING for t in step.tasks)
        if step.status is StepStatus.SUCCEEDED:
            # Only a fan-out step with `on_failure: continue` succeeds with failed items,
            # whose outputs are null.
            failed = [t for t in step.tasks if t.status is not StepStatus.SUCCEEDED]
            assert all(t.status is StepStatus.FAILED and t.index is not None for t in failed)
            assert not failed or machine.plan.steps[step.id].on_failure == "continue"
            assert step.failed_items == len(failed)
            assert (step.error is not None) == bool(failed)
            for name, values in (step.output or {}).items():
                if step.tasks and step.tasks[0].index is not None:
                    assert [i for i, v in enumerate(values) if v is None] == [
                        t.index for t in failed
                    ], name


def decide_and_act(
    machine: RunMachine,
    running: dict[tuple[str, int | None], cmd.Start],
    journal: list[ev.AnyEvent],
    now: float,
) -> float:
    """Carry out one decision: start attempts, record events; return the time, moved on to
    a wake-up the machine asked for."""
    for command in machine.decide(now):
        if isinstance(command, cmd.Start):
            key = (command.step, command.index)
            assert key not in running, "an attempt was started twice"
            assert machine.task(command.step, command.index).status is not StepStatus.SUCCEEDED
            event: ev.AnyEvent = ev.StepStarted(
                at=now,
                step=command.step,
                index=command.index,
                attempt=command.attempt,
                variant=command.variant,
            )
            running[key] = command
        elif isinstance(command, cmd.Record):
            event = command.event
        else:
            now = max(now, command.at)
            continue
        machine.apply(event)
        journal.append(event)
    return now


def run_to_end(
    machine: RunMachine,
    data: st.DataObject,
    journal: list[ev.AnyEvent],
    fail_sometimes: bool,
    kind: str = "transient",
    vacating: bool = False,
) -> None:
    """Drive the machine, completing a randomly chosen running attempt at each turn.

    With `vacating`, a success sometimes frees its slot first and a decision starts the
    next attempts before the success is folded, as the driver does (`RunMachine.vacate`).
    """
    running: dict[tuple[str, int | None], cmd.Start] = {}
    now = 1.0
    for _ in range(2000):
        now = decide_and_act(machine, running, journal, now)
        check_invariants(machine)
        if machine.state.status.finished:
            return
        if not running:
            continue
        key = data.draw(st.sampled_from(sorted(running, key=str)))
        command = running.pop(key)
        if fail_sometimes and data.draw(st.booleans()):
            error = ev.ErrorInfo(kind=kind, message=f"{command.step}[{command.index}] failed")
            outcome: ev.AnyEvent = machine.failed(command, error, 0.0, now)
        else:
            outcome = machine.succeeded(command, dict(command.inputs), now)
            vacated = (
                vacating
                and isinstance(outcome, ev.StepSucceeded)
                and data.draw(st.booleans())
                and machine.vacate(command.step, command.index)
            )
            if vacated:
                now = decide_and_act(machine, running, journal, now)
                check_invariants(machine, extra=1)
        machine.apply(outcome)
        journal.append(outcome)
    raise AssertionError("the run did not finish")


@settings(max_examples=60, deadline=None)
@given(plan=dags(), concurrency=st.integers(1, 4), data=st.data())
def test_any_order_of_completions_reaches_the_same_final_state(
    plan: Plan, concurrency: int, data: st.DataObject
) -> None:
    reference = new_machine(plan, concurrency=8)
    run_to_end(reference, data, [], fail_sometimes=False)
    shuffled = new_machine(plan, concurrency=concurrency)
    run_to_end(shuffled, data, [], fail_sometimes=False)
    assert snapshot(shuffled) == snapshot(reference)
    assert reference.state.status.value == "succeeded"


@settings(max_examples=60, deadline=None)
@given(plan=dags(continuing=True), concurrency=st.integers(1, 4), data=st.data())
def test_slots_freed_before_their_successes_are_folded_change_no_outcome(
    plan: Plan, concurrency: int, data: st.DataObject
) -> None:
    reference = new_machine(plan, concurrency=8)
    run_to_end(reference, data, [], fail_sometimes=False)
    vacating = new_machine(plan, concurrency=concurrency)
    journal: list[ev.AnyEvent] = []
    run_to_end(vacating, data, journal, fail_sometimes=False, vacating=True)
    assert snapshot(vacating) == snapshot(reference)
    assert_every_prefix_replays(plan, journal, vacating, concurrency=concurrency, extra=1)


@settings(max_examples=40, deadline=None)
@given(plan=dags(), data=st.data())
def test_every_prefix_of_a_journal_folds_into_a_valid_state_and_replays_exactly(
    plan: Plan, data: st.DataObject
) -> None:
    live = new_machine(plan, concurrency=3)
    journal: list[ev.AnyEvent] = []
    run_to_end(live, data, journal, fail_sometimes=False)
    assert_every_prefix_replays(plan, journal, live)


@settings(max_examples=40, deadline=None)
@given(plan=dags(), data=st.data(), cut=st.floats(0, 1))
def test_a_crash_at_any_point_ends_like_an_uninterrupted_run(
    plan: Plan, data: st.DataObject, cut: float
) -> None:
    reference = new_machine(plan, concurrency=2)
    journal: list[ev.AnyEvent] = []
    run_to_end(reference, data, journal, fail_sometimes=True, vacating=True)
    kept = journal[: int(len(journal) * cut)]
    finished_before = {(e.step, e.index) for e in kept if isinstance(e, ev.StepSucceeded)}
    recovered = new_machine(plan, concurrency=2)
    recovered.apply_all(kept)
    if not recovered.state.status.finished:
        recovered.apply(ev.RunRecovered(at=2.0, owner="w2"))
    rest: list[ev.AnyEvent] = []
    run_to_end(recovered, data, rest, fail_sometimes=False)
    restarted = {(e.step, e.index) for e in rest if isinstance(e, ev.StepStarted)}
    assert not restarted & finished_before, "a finished step ran again"
    assert snapshot(recovered) == snapshot(reference)


@settings(max_examples=60, deadline=None)
@given(plan=dags(continuing=True), data=st.data())
def test_a_journal_with_permanent_failures_replays_exactly_from_every_prefix(
    plan: Plan, data: st.DataObject
) -> None:
    live = new_machine(plan, concurrency=3)
    journal: list[ev.AnyEvent] = []
    run_to_end(live, data, journal, fail_sometimes=True, kind="permanent")
    assert live.state.status.finished
    assert_every_prefix_replays(plan, journal, live)


def assert_every_prefix_replays(
    plan: Plan,
    journal: list[ev.AnyEvent],
    live: RunMachine,
    concurrency: int = 3,
    extra: int = 0,
) -> None:
    """Every prefix of the journal folds into a valid state; the whole folds into `live`'s.

    `extra`: attempts a prefix may show running past the limit (a start recorded before
    the success that freed its slot, `RunMachine.vacate`).
    """
    for end in range(len(journal) + 1):
        replay = new_machine(plan, concurrency=concurrency)
        replay.apply_all(journal[:end])
        check_invariants(replay, extra)
        replay.decide(1.0)
    full = new_machine(plan, concurrency=concurrency)
    full.apply_all(journal)
    assert snapshot(full) == snapshot(live)
