"""The state machine: ordering, concurrency, failures, recovery, pause, fan-out."""

from __future__ import annotations

from kflow.engine import commands as cmd
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.engine.state import RunStatus, StepStatus
from tests.unit.engine.plans import (
    DIAMOND,
    echo_all,
    new_machine,
    plan_of,
    records,
    start,
    starts,
)


def error(kind: str = "transient", message: str = "boom") -> ev.ErrorInfo:
    return ev.ErrorInfo(kind=kind, message=message, type="Error")


def test_a_step_starts_only_after_its_dependencies_succeed() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 5})
    first = starts(machine.decide(1.0))
    assert [c.step for c in first] == ["a"]
    start(machine, first[0])
    assert machine.decide(1.0) == []
    machine.apply(machine.succeeded(first[0], {"value": 5}, 1.0))
    second = starts(machine.decide(1.0))
    assert sorted(c.step for c in second) == ["b", "c"]
    assert all(c.inputs == {"value": 5} for c in second)


def test_the_diamond_runs_to_the_end_and_binds_the_workflow_output() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 7})
    journal = echo_all(machine)
    assert isinstance(journal[-1], ev.RunSucceeded)
    assert journal[-1].outputs == {"total": 7}
    assert machine.state.status is RunStatus.SUCCEEDED


def test_max_concurrency_caps_the_attempts_started_at_once() -> None:
    plan = plan_of(
        """
steps:
  - {id: items, action: echo, inputs: {xs: [1, 2, 3, 4, 5, 6, 7]}, outputs: {xs: xs}}
  - {id: each, action: echo, parallel: true, inputs: {x: $steps.items.xs}, outputs: {x: x}}
"""
    )
    machine = new_machine(plan, concurrency=3)
    first = starts(machine.decide(1.0))
    start(machine, first[0])
    machine.apply(machine.succeeded(first[0], {"xs": [1, 2, 3, 4, 5, 6, 7]}, 1.0))
    batch = starts(machine.decide(1.0))
    assert len(batch) == 3
    for command in batch:
        start(machine, command)
    assert starts(machine.decide(1.0)) == []
    machine.apply(machine.succeeded(batch[0], {"x": 1}, 1.0))
    assert len(starts(machine.decide(1.0))) == 1


def test_when_slots_are_scarce_the_critical_path_goes_first() -> None:
    plan = plan_of(
        """
steps:
  - {id: short, action: noop}
  - {id: long1, action: noop}
  - {id: long2, action: noop, depends_on: [long1]}
  - {id: long3, action: noop, depends_on: [long2]}
"""
    )
    machine = new_machine(plan, concurrency=1)
    assert [c.step for c in starts(machine.decide(1.0))] == ["long1"]


def test_a_sequential_workflow_runs_one_step_at_a_time() -> None:
    plan = plan_of(
        """
engine: {type: sequential}
steps:
  - {id: a, action: noop}
  - {id: b, action: noop}
"""
    )
    machine = new_machine(plan, concurrency=8)
    assert len(starts(machine.decide(1.0))) == 1


def test_a_transient_failure_is_retried_with_backoff_and_a_new_attempt() -> None:
    plan = plan_of(
        """
steps:
  - id: flaky
    action: noop
    retry: {max_retries: 2, initial_delay: 1, jitter: 0}
"""
    )
    machine = new_machine(plan)
    first = starts(machine.decide(10.0))[0]
    start(machine, first, 10.0)
    failed = machine.failed(first, error(), None, 10.0)
    assert failed.decision == "retry" and failed.retry_at == 11.0
    machine.apply(failed)
    assert machine.decide(10.5) == [cmd.WakeAt(11.0)]
    again = starts(machine.decide(11.0))
    assert [c.attempt for c in again] == [2]


def test_retries_stop_when_the_budget_is_spent() -> None:
    plan = plan_of(
        """
steps:
  - {id: flaky, action: noop, retry: {max_retries: 1, initial_delay: 0}}
"""
    )
    machine = new_machine(plan)
    for expected in ("retry", "fail"):
        command = starts(machine.decide(1.0))[0]
        start(machine, command)
        failed = machine.failed(command, error(), None, 1.0)
        assert failed.decision == expected
        machine.apply(failed)
    assert records(machine.decide(1.0))[0] == ev.RunFailed(at=1.0, error=error(), step="flaky")


def test_a_permanent_error_is_not_retried() -> None:
    plan = plan_of("steps:\n  - {id: s, action: noop, retries: 5}\n")
    machine = new_machine(plan)
    command = starts(machine.decide(1.0))[0]
    start(machine, command)
    assert machine.failed(command, error("permanent"), None, 1.0).decision == "fail"


def test_retry_after_from_the_action_overrides_the_backoff() -> None:
    plan = plan_of("steps:\n  - {id: s, action: noop, retries: 3}\n")
    machine = new_machine(plan)
    command = starts(machine.decide(1.0))[0]
    start(machine, command)
    assert machine.failed(command, error(), 7.5, 1.0).retry_at == 8.5


def test_after_retries_the_fallback_runs_then_the_escalation_agent() -> None:
    plan = plan_of(
        """
steps:
  - id: gather
    agent: kExecutor
    action: execute_research_plan
    inputs: {plan: x}
error_handling:
  - {step: gather, on_failure: escalate, max_retries: 0, fallback: manual_research,
     escalation_agent: kCoordinator}
"""
    )
    machine = new_machine(plan)
    primary = starts(machine.decide(1.0))[0]
    start(machine, primary)
    machine.apply(machine.failed(primary, error(), None, 1.0))
    fallback = starts(machine.decide(1.0))[0]
    assert (fallback.variant, fallback.action.method) == ("fallback", "manual_research")
    start(machine, fallback)
    machine.apply(machine.failed(fallback, error(message="still broken"), None, 1.0))
    escalation = starts(machine.decide(1.0))[0]
    assert escalation.variant == "escalation"
    assert (escalation.action.target, escalation.action.method) == ("kCoordinator", "escalate")
    # The escalation agent learns why the primary action failed, not only the fallback.
    assert escalation.inputs["error"] == {
        "kind": "transient",
        "message": "step 'gather' failed: boom; "
        "its fallback (kExecutor.manual_research) also failed: still broken",
    }
    assert escalation.inputs["inputs"] == {"plan": "x"}
    start(machine, escalation)
    machine.apply(machine.succeeded(escalation, {"resolved": True}, 1.0))
    assert isinstance(records(machine.decide(1.0))[0], ev.RunSucceeded)


def test_on_failure_continue_skips_dependents_and_the_run_still_succeeds() -> None:
    plan = plan_of(
        """
outputs: [{name: out, from: $steps.after.value}]
steps:
  - {id: optional, action: noop, on_failure: continue}
  - {id: after, action: echo, inputs: {value: 1}, depends_on: [optional]}
  - {id: other, action: noop}
"""
    )
    machine = new_machine(plan)
    for command in starts(machine.decide(1.0)):
        start(machine, command)
        if command.step == "optional":
            machine.apply(machine.failed(command, error("permanent"), None, 1.0))
        else:
            machine.apply(machine.succeeded(command, {}, 1.0))
    assert machine.state.steps["after"].status is StepStatus.SKIPPED
    result = records(machine.decide(1.0))[0]
    assert isinstance(result, ev.RunSucceeded) and result.outputs == {"out": None}


def test_a_failed_step_lets_running_steps_finish_then_fails_the_run() -> None:
    plan = plan_of("steps:\n  - {id: a, action: noop}\n  - {id: b, action: noop}\n")
    machine = new_machine(plan)
    a, b = starts(machine.decide(1.0))
    start(machine, a)
    start(machine, b)
    machine.apply(machine.failed(a, error("permanent"), None, 1.0))
    assert machine.decide(1.0) == []
    machine.apply(machine.succeeded(b, {}, 2.0))
    failed = records(machine.decide(2.0))[0]
    assert isinstance(failed, ev.RunFailed) and failed.step == "a"


def test_recovery_runs_interrupted_attempts_again_with_a_new_attempt_number() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 1})
    a = starts(machine.decide(1.0))[0]
    start(machine, a)
    machine.apply(ev.RunRecovered(at=2.0, owner="w2"))
    again = starts(machine.decide(2.0))
    assert [(c.step, c.attempt) for c in again] == [("a", 2)]
    assert machine.state.running == 0


def test_a_paused_run_starts_nothing_until_resumed() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 1})
    machine.apply(ev.RunPaused(at=1.0, reason="maintenance"))
    assert machine.decide(1.0) == []
    assert machine.state.reason == "maintenance"
    machine.apply(ev.RunResumed(at=2.0))
    assert [c.step for c in starts(machine.decide(2.0))] == ["a"]


def test_a_cancelled_run_decides_nothing_more() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 1})
    machine.apply(ev.RunCancelled(at=1.0, reason="wrong input"))
    assert machine.state.status is RunStatus.CANCELLED
    assert machine.decide(1.0) == []


def test_fan_out_collects_item_outputs_in_order() -> None:
    plan = plan_of(
        """
steps:
  - {id: each, action: echo, parallel: true, inputs: {x: [3, 1, 2], k: 1}, outputs: {x: x}}
"""
    )
    machine = new_machine(plan)
    batch = starts(machine.decide(1.0))
    assert [(c.index, c.inputs) for c in batch] == [
        (0, {"x": 3, "k": 1}),
        (1, {"x": 1, "k": 1}),
        (2, {"x": 2, "k": 1}),
    ]
    for command in reversed(batch):
        start(machine, command)
        machine.apply(machine.succeeded(command, dict(command.inputs), 1.0))
    assert machine.state.steps["each"].output == {"x": [3, 1, 2]}


def test_fan_out_over_an_empty_list_succeeds_with_empty_outputs() -> None:
    plan = plan_of(
        """
outputs: [{name: xs, from: $steps.each.x}]
steps:
  - {id: each, action: echo, parallel: true, inputs: {x: []}, outputs: {x: x}}
"""
    )
    journal = echo_all(new_machine(plan))
    assert journal == [ev.RunSucceeded(at=1.0, outputs={"xs": []})]


def test_fan_out_over_a_value_that_is_not_a_list_fails_with_a_clear_message() -> None:
    plan = plan_of("steps:\n  - {id: each, action: echo, parallel: {over: x}, inputs: {x: 5}}\n")
    machine = new_machine(plan)
    failure = records(machine.decide(1.0))[0]
    assert isinstance(failure, ev.StepFailed)
    assert failure.error.message == "step 'each' fans out over input 'x', which is int, not a list"
    assert failure.error.kind == "validation"


def test_a_result_missing_a_declared_output_fails_the_step_with_the_keys_found() -> None:
    plan = plan_of("steps:\n  - {id: s, action: echo, outputs: {plan: research_plan}}\n")
    machine = new_machine(plan)
    command = starts(machine.decide(1.0))[0]
    start(machine, command)
    failed = machine.succeeded(command, {"other": 1}, 1.0)
    assert isinstance(failed, ev.StepFailed)
    assert "has no key 'research_plan' (it has 'other')" in failed.error.message


def test_the_run_fails_when_it_exceeds_its_timeout_counted_from_its_first_start() -> None:
    plan = plan_of("engine: {timeout: 5s}\nsteps:\n  - {id: s, action: noop}\n")
    machine = new_machine(plan)
    start(machine, starts(machine.decide(100.0))[0], at=100.0)
    assert machine.decide(102.0) == [cmd.WakeAt(105.0)]
    failure = records(machine.decide(105.0))[0]
    assert isinstance(failure, ev.RunFailed)
    assert failure.error.kind == "timeout"
    assert failure.error.message == (
        "the run exceeded its timeout of 5s (counted from the start of its first step)"
    )


def test_a_paused_run_with_a_retry_due_does_not_ask_to_be_woken_for_it() -> None:
    plan = plan_of(
        "steps:\n  - {id: s, action: noop, retry: {max_retries: 3, initial_delay: 1, jitter: 0}}\n"
    )
    machine = new_machine(plan)
    command = starts(machine.decide(1.0))[0]
    start(machine, command)
    machine.apply(machine.failed(command, error(), None, 1.0))
    machine.apply(ev.RunPaused(at=1.5))
    assert machine.decide(5.0) == []
    machine.apply(ev.RunResumed(at=6.0))
    assert [c.attempt for c in starts(machine.decide(6.0))] == [2]


def test_a_replayed_journal_keeps_only_the_latest_retry_time() -> None:
    plan = plan_of(
        "steps:\n  - {id: s, action: noop, retry: {max_retries: 3, initial_delay: 1, jitter: 0}}\n"
    )
    live = new_machine(plan)
    journal: list[ev.AnyEvent] = []
    for now in (1.0, 2.0):
        command = starts(live.decide(now))[0]
        journal.append(start(live, command, at=now))
        journal.append(live.failed(command, error(), None, now))
        live.apply(journal[-1])
    replay = new_machine(plan)
    replay.apply_all(journal)
    # The first retry (due at 2) was used; only the second (due at 2 + 2 = 4) counts.
    assert replay.decide(3.0) == [cmd.WakeAt(4.0)]
    assert [c.attempt for c in starts(replay.decide(4.0))] == [3]


def test_a_step_running_at_three_worker_deaths_is_failed_not_started_again() -> None:
    machine = new_machine(plan_of(DIAMOND), {"n": 1})
    for death in range(3):
        command = starts(machine.decide(1.0))[0]
        assert (command.step, command.attempt) == ("a", death + 1)
        start(machine, command)
        machine.apply(ev.RunRecovered(at=2.0, owner=f"w{death}"))
    failure = records(machine.decide(3.0))[0]
    assert isinstance(failure, ev.StepFailed)
    assert failure.error.type == "CrashLoop" and failure.error.kind == "resource"
    assert failure.error.message.startswith(
        "step 'a' was running each of the 3 times its worker died; it is not started again"
    )
    machine.apply(failure)
    assert isinstance(records(machine.decide(3.0))[0], ev.RunFailed)


FAN_OUT_CONTINUE = """
outputs: [{name: doubled, from: $steps.after.xs}]
steps:
  - id: each
    action: echo
    parallel: {over: x, max_concurrency: 2}
    inputs: {x: [10, 11, 12, 13]}
    outputs: {x: x}
    on_failure: continue
  - {id: after, action: echo, inputs: {xs: $steps.each.x}, outputs: {xs: xs}}
"""


def test_a_failed_item_of_a_fan_out_with_continue_is_null_and_the_other_items_still_run() -> None:
    machine = new_machine(plan_of(FAN_OUT_CONTINUE))
    journal: list[ev.AnyEvent] = []
    first = starts(machine.decide(1.0))
    assert [c.index for c in first] == [0, 1]  # items 2 and 3 wait for a free slot
    for command in first:
        journal.append(start(machine, command))
    failed = machine.failed(first[1], error("permanent", "item 1 is bad"), None, 2.0)
    assert failed.decision == "continue"
    journal.append(failed)
    machine.apply(failed)
    assert machine.state.steps["each"].status is StepStatus.RUNNING
    journal.append(machine.succeeded(first[0], {"x": 10}, 2.0))
    machine.apply(journal[-1])
    rest = starts(machine.decide(2.0))
    assert [c.index for c in rest] == [2, 3]
    for command in rest:
        journal.append(start(machine, command, 3.0))
        journal.append(machine.succeeded(command, dict(command.inputs), 3.0))
        machine.apply(journal[-1])
    each = machine.state.steps["each"]
    assert each.status is StepStatus.SUCCEEDED
    assert each.output == {"x": [10, None, 12, 13]}
    assert each.tasks[1].status is StepStatus.FAILED
    assert each.tasks[1].error == error("permanent", "item 1 is bad")
    assert each.error == ev.ErrorInfo(
        kind="permanent",
        message="1 of 4 items failed (on_failure: continue, so their outputs are null): "
        "[1] item 1 is bad",
        type="ItemsFailed",
    )
    after = starts(machine.decide(3.0))
    assert [(c.step, c.inputs) for c in after] == [("after", {"xs": [10, None, 12, 13]})]
    journal.append(start(machine, after[0], 4.0))
    journal.append(machine.succeeded(after[0], dict(after[0].inputs), 4.0))
    machine.apply(journal[-1])
    journal.extend(echo_all(machine, now=4.0))
    assert journal[-1] == ev.RunSucceeded(at=4.0, outputs={"doubled": [10, None, 12, 13]})
    replay = new_machine(plan_of(FAN_OUT_CONTINUE))
    replay.apply_all(journal)
    assert replay.state.steps["each"].error == each.error
    assert replay.state.steps["each"].failed_items == 1
    assert replay.state.outputs == machine.state.outputs


def test_a_fan_out_with_continue_whose_items_all_fail_still_succeeds_with_nulls() -> None:
    machine = new_machine(plan_of(FAN_OUT_CONTINUE), concurrency=8)
    for _ in range(2):
        for command in starts(machine.decide(1.0)):
            start(machine, command)
            machine.apply(
                machine.failed(command, error("validation", f"bad {command.index}"), None, 1.0)
            )
    each = machine.state.steps["each"]
    assert each.status is StepStatus.SUCCEEDED and each.output == {"x": [None] * 4}
    assert each.error is not None and each.error.message.endswith(
        "[0] bad 0 | [1] bad 1 | [2] bad 2 | [3] bad 3"
    )
    journal = echo_all(machine)
    assert journal[-1] == ev.RunSucceeded(at=1.0, outputs={"doubled": [None] * 4})


def test_the_summary_of_many_failed_items_lists_the_first_five() -> None:
    plan = plan_of(
        "steps:\n  - {id: each, action: echo, parallel: true, inputs: {x: [0, 1, 2, 3, 4, 5, 6, 7]},"
        " on_failure: continue}\n"
    )
    machine = new_machine(plan, concurrency=8)
    for command in starts(machine.decide(1.0)):
        start(machine, command)
        machine.apply(machine.failed(command, error("permanent", "no"), None, 1.0))
    message = machine.state.steps["each"].error.message  # type: ignore[union-attr]
    assert message == (
        "8 of 8 items failed (on_failure: continue, so their outputs are null): "
        "[0] no | [1] no | [2] no | [3] no | [4] no | ... and 3 more"
    )


def test_a_failed_item_of_a_fan_out_with_continue_is_not_run_again_after_a_crash() -> None:
    plan = plan_of(FAN_OUT_CONTINUE)
    live = new_machine(plan)
    journal: list[ev.AnyEvent] = []
    first = starts(live.decide(1.0))
    for command in first:
        journal.append(start(live, command))
    journal.append(live.failed(first[0], error("permanent"), None, 1.0))
    live.apply(journal[-1])
    recovered = new_machine(plan)
    recovered.apply_all(journal)
    recovered.apply(ev.RunRecovered(at=2.0, owner="w2"))
    rest = echo_all(recovered, now=3.0)
    again = [(e.index, e.attempt) for e in rest if isinstance(e, ev.StepStarted)]
    assert again[:2] == [(1, 2), (2, 1)]
    assert all(index != 0 for index, _ in again)
    assert recovered.state.steps["each"].output == {"x": [None, 11, 12, 13]}
    assert isinstance(rest[-1], ev.RunSucceeded)


def test_an_input_error_of_a_fan_out_step_with_continue_fails_the_step_and_skips_dependents() -> (
    None
):
    plan = plan_of(
        """
steps:
  - {id: each, action: echo, parallel: {over: x}, inputs: {x: 5}, on_failure: continue}
  - {id: after, action: echo, inputs: {v: $steps.each.x}}
"""
    )
    machine = new_machine(plan)
    journal = echo_all(machine)
    assert machine.state.steps["each"].status is StepStatus.FAILED
    assert machine.state.steps["after"].status is StepStatus.SKIPPED
    assert isinstance(journal[-1], ev.RunSucceeded)


def test_a_failed_item_of_a_fan_out_with_fail_starts_no_more_items_then_fails_the_run() -> None:
    plan = plan_of(
        "steps:\n  - {id: each, action: echo, parallel: {over: x, max_concurrency: 2},"
        " inputs: {x: [0, 1, 2, 3]}}\n"
    )
    machine = new_machine(plan)
    first = starts(machine.decide(1.0))
    for command in first:
        start(machine, command)
    machine.apply(machine.failed(first[0], error("permanent", "item 0 is bad"), None, 1.0))
    each = machine.state.steps["each"]
    assert each.status is StepStatus.FAILED and machine.state.failing
    # Items 2 and 3 never start; item 1, already running, is let finish (like any running
    # step when a step fails the run), and only then does the run fail.
    assert machine.decide(1.0) == []
    machine.apply(machine.succeeded(first[1], {"x": 1}, 2.0))
    assert records(machine.decide(2.0)) == [
        ev.RunFailed(at=2.0, error=error("permanent", "item 0 is bad"), step="each")
    ]
    assert [t.status for t in each.tasks] == [
        StepStatus.FAILED,
        StepStatus.SUCCEEDED,
        StepStatus.READY,
        StepStatus.READY,
    ]


def test_items_still_running_when_a_failing_run_ends_are_cancelled() -> None:
    plan = plan_of(
        "engine: {timeout: 10s}\nsteps:\n  - {id: each, action: echo, parallel: true,"
        " inputs: {x: [0, 1, 2]}}\n"
    )
    machine = new_machine(plan)
    batch = starts(machine.decide(1.0))
    for command in batch:
        start(machine, command)
    machine.apply(machine.failed(batch[0], error("permanent"), None, 2.0))
    # Items 1 and 2 hang; the run's deadline ends it and abandons them.
    timeout = records(machine.decide(11.0))[0]
    assert isinstance(timeout, ev.RunFailed)
    machine.apply(timeout)
    assert machine.state.status is RunStatus.FAILED and machine.state.running == 0
    statuses = [t.status for t in machine.state.steps["each"].tasks]
    assert statuses == [StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.CANCELLED]


FALLBACK = """
steps:
  - id: gather
    agent: kExecutor
    action: execute_research_plan
    retry: {max_retries: 1, initial_delay: 0}
    fallback: manual_research
"""


def fail_through(machine: RunMachine, *errors: ev.ErrorInfo) -> list[ev.AnyEvent]:
    """Fail each attempt the machine starts with the next of `errors`; return the journal,
    ending with what the machine records next."""
    journal: list[ev.AnyEvent] = []
    for failure in errors:
        (command,) = starts(machine.decide(1.0))
        journal.append(start(machine, command))
        journal.append(machine.failed(command, failure, None, 1.0))
        machine.apply(journal[-1])
    journal.extend(records(machine.decide(1.0)))
    return journal


def test_a_failing_fallback_keeps_the_original_error_in_the_run_error() -> None:
    machine = new_machine(plan_of(FALLBACK))
    journal = fail_through(
        machine,
        error("transient", "first try"),
        error("transient", "api down"),  # the retry: its error is the original one
        ev.ErrorInfo(kind="permanent", message="no manual sources", type="LookupError"),
    )
    expected = ev.ErrorInfo(
        kind="permanent",
        message="step 'gather' failed: api down; "
        "its fallback (kExecutor.manual_research) also failed: no manual sources",
        type="LookupError",
    )
    assert journal[-1] == ev.RunFailed(at=1.0, error=expected, step="gather")
    # The journal keeps each attempt's own error; the chain is built when folding it.
    assert [e.error.message for e in journal if isinstance(e, ev.StepFailed)] == [
        "first try",
        "api down",
        "no manual sources",
    ]
    assert machine.state.steps["gather"].error == expected
    replay = new_machine(plan_of(FALLBACK))
    replay.apply_all(journal)
    assert replay.state.error == expected and replay.state.steps["gather"].error == expected


def test_a_failing_escalation_keeps_the_original_and_the_fallback_errors() -> None:
    plan = plan_of(
        FALLBACK
        + "error_handling:\n  - {step: gather, on_failure: escalate, escalation_agent: kBoss}\n"
    )
    machine = new_machine(plan)
    journal = fail_through(
        machine,
        error("transient", "first try"),
        error("transient", "api down"),
        error("permanent", "no manual sources"),
        ev.ErrorInfo(kind="dependency", message="boss is away", type="Away"),
    )
    assert journal[-1] == ev.RunFailed(
        at=1.0,
        error=ev.ErrorInfo(
            kind="dependency",
            message="step 'gather' failed: api down; "
            "its fallback (kExecutor.manual_research) also failed: no manual sources; "
            "its escalation (kBoss.escalate) also failed: boss is away",
            type="Away",
        ),
        step="gather",
    )


def test_an_escalation_without_a_fallback_keeps_the_original_error() -> None:
    plan = plan_of(
        """
steps:
  - {id: s, action: noop, on_failure: escalate, escalation_agent: kBoss, retries: 0}
"""
    )
    machine = new_machine(plan)
    journal = fail_through(machine, error("permanent", "bad"), error("timeout", "no answer"))
    failure = journal[-1]
    assert isinstance(failure, ev.RunFailed)
    assert failure.error == error(
        "timeout", "step 's' failed: bad; its escalation (kBoss.escalate) also failed: no answer"
    )


def test_a_fallback_interrupted_by_a_crash_still_keeps_the_original_error() -> None:
    plan = plan_of(FALLBACK)
    live = new_machine(plan)
    journal: list[ev.AnyEvent] = []
    for message in ("first try", "api down"):
        (primary,) = starts(live.decide(1.0))
        journal.append(start(live, primary))
        journal.append(live.failed(primary, error("transient", message), None, 1.0))
        live.apply(journal[-1])
    (fallback,) = starts(live.decide(1.0))
    journal.append(start(live, fallback))
    recovered = new_machine(plan)
    recovered.apply_all(journal)
    recovered.apply(ev.RunRecovered(at=2.0, owner="w2"))
    (again,) = starts(recovered.decide(2.0))
    assert (again.variant, again.attempt) == ("fallback", 4)
    start(recovered, again, 2.0)
    recovered.apply(recovered.failed(again, error("permanent", "no luck"), None, 2.0))
    failure = records(recovered.decide(2.0))[0]
    assert isinstance(failure, ev.RunFailed)
    assert failure.error.message == (
        "step 'gather' failed: api down; "
        "its fallback (kExecutor.manual_research) also failed: no luck"
    )


def test_a_fan_out_item_whose_fallback_fails_names_both_errors_in_the_summary() -> None:
    plan = plan_of(
        """
steps:
  - {id: each, action: echo, parallel: true, inputs: {x: [0, 1]}, fallback: noop,
     on_failure: continue}
"""
    )
    machine = new_machine(plan)
    for _ in range(2):
        for command in starts(machine.decide(1.0)):
            start(machine, command)
            if command.index == 0:
                machine.apply(machine.succeeded(command, {"x": 0}, 1.0))
            else:
                message = "primary" if command.variant == "primary" else "fallback"
                machine.apply(machine.failed(command, error("permanent", message), None, 1.0))
    each = machine.state.steps["each"]
    assert each.output == {"x": [0, None]}
    assert each.error is not None and each.error.message == (
        "1 of 2 items failed (on_failure: continue, so their outputs are null): "
        "[1] step 'each[1]' failed: primary; its fallback (noop) also failed: fallback"
    )


def test_a_task_made_ready_by_an_uncommitted_result_waits_while_others_take_the_slot() -> None:
    plan = plan_of(
        """
steps:
  - {id: a, action: echo, inputs: {v: 1}, outputs: {v: v}}
  - {id: b, action: echo, inputs: {v: 2}, outputs: {v: v}}
  - {id: c, action: echo, inputs: {v: 3}, outputs: {v: v}}
  - {id: after_a, action: echo, inputs: {v: $steps.a.v}, outputs: {v: v}}
"""
    )
    machine = new_machine(plan, concurrency=2)
    first = starts(machine.decide(1.0, durable=0))
    assert sorted(c.step for c in first) == ["a", "b"]
    for command in first:
        start(machine, command)
    committed = machine.state.events - 1
    result = machine.succeeded(next(c for c in first if c.step == "a"), {"v": 1}, 1.0)
    machine.apply(result)  # `a` succeeded, but the event is not committed yet
    uncommitted = starts(machine.decide(1.0, durable=committed))
    assert [c.step for c in uncommitted] == ["c"]  # the free slot goes to a durable task
    start(machine, uncommitted[0])
    machine.apply(machine.succeeded(uncommitted[0], {"v": 3}, 1.0))
    assert starts(machine.decide(1.0, durable=committed)) == []
    assert [c.step for c in starts(machine.decide(1.0, durable=machine.state.events - 1))] == [
        "after_a"
    ]


def test_a_slot_is_kept_for_a_better_task_whose_readying_result_is_about_to_commit() -> None:
    plan = plan_of(
        """
steps:
  - {id: a, action: echo, inputs: {v: 1}, outputs: {v: v}}
  - {id: b, action: echo, inputs: {v: $steps.a.v}, outputs: {v: v}}
  - {id: c, action: echo, inputs: {v: $steps.b.v}, outputs: {v: v}}
  - {id: leaf1, action: echo, inputs: {v: 1}}
  - {id: leaf2, action: echo, inputs: {v: 2}}
"""
    )
    machine = new_machine(plan, concurrency=1)
    order = []
    durable = 0
    while not machine.state.status.finished:
        # As the driver does: decide at once with the last commit, then again once the
        # events recorded since are committed.
        commands = machine.decide(1.0, durable) or machine.decide(1.0, machine.state.events - 1)
        durable = machine.state.events - 1
        for command in commands:
            if isinstance(command, cmd.Start):
                order.append(command.step)
                start(machine, command)
                machine.apply(machine.succeeded(command, {"v": 1}, 1.0))
            elif isinstance(command, cmd.Record):
                machine.apply(command.event)
    assert order == ["a", "b", "c", "leaf1", "leaf2"]


def test_when_a_run_fails_what_never_started_is_skipped_and_what_had_begun_cancelled() -> None:
    plan = plan_of(
        """
steps:
  - {id: bad, action: echo}
  - {id: flaky, action: echo, retry: {max_retries: 3, initial_delay: 60s}}
  - {id: after, action: echo, depends_on: [bad]}
  - {id: each, action: echo, parallel: {over: x, max_concurrency: 1}, inputs: {x: [1, 2]}}
"""
    )
    machine = new_machine(plan, concurrency=3)
    batch = {c.step: c for c in starts(machine.decide(1.0))}
    assert sorted(batch) == ["bad", "each", "flaky"]
    for command in batch.values():
        start(machine, command)
    machine.apply(machine.failed(batch["flaky"], error("transient"), None, 1.5))
    machine.apply(machine.succeeded(batch["each"], {}, 1.5))
    machine.apply(machine.failed(batch["bad"], error("permanent", "no"), None, 2.0))
    (failed,) = records(machine.decide(2.0))
    machine.apply(failed)
    steps = machine.state.steps
    assert steps["flaky"].status is StepStatus.CANCELLED  # it had run, and waited to retry
    assert steps["after"].status is StepStatus.SKIPPED
    assert steps["each"].status is StepStatus.CANCELLED
    assert [t.status for t in steps["each"].tasks] == [StepStatus.SUCCEEDED, StepStatus.SKIPPED]
    assert machine.state.finished_steps == len(steps)


def test_reading_a_fan_out_that_lost_every_item_and_declares_no_outputs_says_so() -> None:
    plan = plan_of(
        """
steps:
  - {id: each, action: echo, parallel: {over: x}, inputs: {x: [1, 2]}, on_failure: continue}
  - {id: after, action: echo, inputs: {v: $steps.each.y}}
"""
    )
    machine = new_machine(plan)
    for command in starts(machine.decide(1.0)):
        start(machine, command)
        machine.apply(machine.failed(command, error("permanent"), None, 2.0))
    assert machine.state.steps["each"].status is StepStatus.SUCCEEDED
    (failure,) = records(machine.decide(2.0))
    assert isinstance(failure, ev.StepFailed)
    assert failure.error.message == (
        "$steps.each.y: step 'each' has no output 'y'; all 2 items of step 'each' failed, "
        "so it has no outputs: declare them (`outputs:`) to get a list of nulls instead"
    )


def test_a_task_readied_by_an_uncommitted_result_is_said_to_await_the_commit() -> None:
    plan = plan_of(
        """
steps:
  - {id: each, action: echo, parallel: true, inputs: {x: [1, 2, 3]}, outputs: {x: x}}
  - {id: after, action: echo, inputs: {xs: $steps.each.x}}
"""
    )
    machine = new_machine(plan)
    items = starts(machine.decide(1.0))
    for command in items:
        start(machine, command)
    awaits = []
    for command in items:
        durable = machine.state.events - 1  # everything before this result
        machine.apply(machine.succeeded(command, dict(command.inputs), 1.0))
        awaits.append(machine.awaits_commit(durable))
    assert awaits == [False, False, True]  # only the last item readies `after`
    assert not machine.awaits_commit(machine.state.events - 1)  # once that one is durable
    (after,) = starts(machine.decide(1.0, durable=machine.state.events - 1))
    assert after.step == "after"


def test_a_free_slot_and_a_task_whose_readying_event_is_durable_mean_decide_can_start_it() -> None:
    plan = plan_of(
        "steps:\n  - {id: a, action: echo}\n  - {id: c, action: echo, depends_on: [a]}\n"
    )
    machine = new_machine(plan, concurrency=1)
    (first,) = starts(machine.decide(1.0))
    start(machine, first)
    assert not machine.has_free_slot_and_ready_task(machine.state.events - 1)  # a runs
    machine.apply(machine.succeeded(first, {}, 1.0))
    readying = machine.state.events - 1
    assert not machine.has_free_slot_and_ready_task(readying - 1)  # c waits for the commit
    assert machine.has_free_slot_and_ready_task(readying)  # though never moved to the queue
    (second,) = starts(machine.decide(1.0, durable=readying))
    assert second.step == "c"


def test_a_slot_is_freed_early_only_for_a_task_the_successs_dependents_cannot_outrank() -> None:
    plan = plan_of(
        """
steps:
  - {id: a, action: noop}
  - {id: b, action: noop, depends_on: [a]}
  - {id: c, action: noop, depends_on: [b]}
  - {id: leaf, action: noop}
  - {id: other, action: noop}
"""
    )
    machine = new_machine(plan, concurrency=1)
    (first,) = starts(machine.decide(1.0))
    assert first.step == "a"  # the longest path first
    start(machine, first)
    # `b`, which `a` readies, outranks `leaf`, the best queued task: the slot waits for it.
    assert not machine.vacate("a", None)
    assert starts(machine.decide(1.0)) == []
    machine.apply(machine.succeeded(first, {}, 1.0))


def test_a_vacated_slot_takes_the_next_task_before_the_success_is_folded() -> None:
    plan = plan_of(
        """
steps:
  - {id: a, action: noop}
  - {id: b, action: noop}
  - {id: c, action: noop}
  - {id: after_a, action: noop, depends_on: [a]}
"""
    )
    machine = new_machine(plan, concurrency=1)
    (first,) = starts(machine.decide(1.0))
    start(machine, first)
    # Nothing `first` readies outranks the queued roots: its slot is freed at once.
    assert machine.vacate(first.step, None)
    assert machine.has_free_slot()
    (second,) = starts(machine.decide(1.0))
    start(machine, second)
    assert machine.state.running == 2  # the vacated attempt is still counted running
    assert not machine.has_free_slot()
    machine.apply(machine.succeeded(first, {}, 1.0))
    assert machine.state.running == 1
    assert not machine.has_free_slot()  # the fold freed nothing twice
    assert starts(machine.decide(1.0)) == []


def test_a_step_that_fails_the_run_as_it_would_start_stops_the_decisions_other_starts() -> None:
    plan = plan_of(
        """
inputs: [{name: x, type: string, default: not a list}]
steps:
  - {id: bad, action: echo, parallel: {over: v}, inputs: {v: $inputs.x}}
  - {id: good, action: sleep, inputs: {seconds: 0.05}}
"""
    )
    machine = new_machine(plan, {"x": "not a list"}, concurrency=4)
    commands = machine.decide(1.0)
    (failure,) = records(commands)
    after = commands[commands.index(cmd.Record(failure)) + 1 :]
    assert starts(after) == []  # a start there would come after the run began failing
    assert isinstance(failure, ev.StepFailed) and failure.decision == "fail"
    machine.apply(failure)
    assert [type(e) for e in records(machine.decide(1.0))] == [ev.RunFailed]


def test_an_item_of_a_fan_out_with_its_own_limit_does_not_free_its_slot_early() -> None:
    # The item counts against its step's limit until its success is folded: the step's
    # next item could not take the slot, and a lesser queued step would, for its whole run.
    plan = plan_of(
        """
steps:
  - {id: f, action: echo, parallel: {over: x, max_concurrency: 1}, inputs: {x: [1, 2, 3]}}
  - {id: lesser, action: noop}
"""
    )
    machine = new_machine(plan, concurrency=2)
    first = starts(machine.decide(1.0))
    assert [(c.step, c.index) for c in first] == [("f", 0), ("lesser", None)]
    for command in first:
        start(machine, command)
    assert not machine.vacate("f", 0)
    machine.apply(machine.succeeded(first[0], {"x": 1}, 1.0))
    assert [(c.step, c.index) for c in starts(machine.decide(1.0))] == [("f", 1)]
