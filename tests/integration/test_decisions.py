"""The driver decides again after every event that can change what to do next.

Not only when a task can start: a failure `decide` recorded itself must end the run, a
retry must get its timer, a resumed run must pick up its due retry. Each scenario is
bounded by a timeout, so a run that nobody decides for fails the test instead of hanging.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from kflow.engine import events as ev
from kflow.engine.state import RunStatus
from kflow.errors import RunStateError
from kflow.plan import Plan, load_plan
from kflow.runtime import RunResult, Service
from kflow.runtime.service import _check_applied
from kflow.store import Entry

S = "tests.integration.steps"
NO_HANG_SECONDS = 10


def plan(text: str) -> Plan:
    return load_plan(text, "test.yaml")


def run(service: Service, workflow: Plan) -> RunResult:
    return asyncio.run(asyncio.wait_for(service.run(workflow), NO_HANG_SECONDS))


def test_a_step_whose_inputs_cannot_be_rendered_fails_the_run(service: Service) -> None:
    workflow = plan(
        f"""
steps:
  - {{id: a, action: "{S}:context"}}
  - {{id: b, action: noop, inputs: {{x: $steps.a.typo}}}}
"""
    )
    result = run(service, workflow)
    assert result.status == "failed"
    assert "typo" in (result.error or "")


def test_a_fan_out_over_a_value_that_is_not_a_list_fails_the_run(service: Service) -> None:
    workflow = plan(
        f"""
steps:
  - {{id: a, action: echo, inputs: {{x: 5}}, outputs: {{x: x}}}}
  - {{id: b, action: "{S}:probe", parallel: {{over: item}}, inputs: {{seconds: 0, item: $steps.a.x}}}}
"""
    )
    result = run(service, workflow)
    assert result.status == "failed"
    assert "not a list" in (result.error or "")


def test_a_step_that_was_running_each_time_its_worker_died_fails_the_run(
    service: Service,
) -> None:
    run_id = asyncio.run(service.create(plan("steps:\n  - {id: a, action: noop}\n")))
    seq, now = 1, time.time()
    for attempt in (1, 2, 3):  # three workers died while `a` was running
        for event in (
            ev.StepStarted(at=now, step="a", attempt=attempt),
            ev.RunRecovered(at=now, owner=f"w{attempt}"),
        ):
            service.store.append([Entry(run_id, seq, event, ev.encode(event))])
            seq += 1
    (result,) = asyncio.run(asyncio.wait_for(service.execute([run_id]), NO_HANG_SECONDS))
    assert result.status == "failed"
    assert "was running each of the 3 times its worker died" in (result.error or "")


def test_a_retry_starts_on_time_while_another_step_runs_long(service: Service) -> None:
    workflow = plan(
        f"""
steps:
  - {{id: long, action: "{S}:probe", inputs: {{seconds: 2}}}}
  - id: f
    action: "{S}:flaky"
    inputs: {{name: f, failures: 1}}
    retry: {{max_retries: 3, initial_delay: 0.01}}
"""
    )
    result = run(service, workflow)
    assert result.ok
    history = service.history(result.run_id)
    starts = [e.at for e in history if isinstance(e, ev.StepStarted) and e.step == "f"]
    assert len(starts) == 2
    assert starts[1] - starts[0] < 1.0, "the retry waited for the long step to end"


def test_a_retry_that_fell_due_while_the_run_was_paused_runs_after_the_resume(
    service: Service,
) -> None:
    workflow = plan(
        f"""
steps:
  - id: f
    action: "{S}:flaky"
    inputs: {{name: f, failures: 1}}
    retry: {{max_retries: 3, initial_delay: 0.3}}
"""
    )
    other = Service(service.store)

    async def scenario() -> RunResult:
        run_id = await service.create(workflow)
        execution = asyncio.ensure_future(service.execute([run_id]))
        await asyncio.sleep(0.1)  # the first attempt has failed; its retry is due at ~0.3 s
        assert await other.pause(run_id) in ("requested", "paused")
        await asyncio.sleep(0.5)  # the retry falls due while the run is paused
        assert other.status(run_id).status == "paused"
        assert await other.resume(run_id) in ("requested", "resumed")
        (result,) = await asyncio.wait_for(execution, NO_HANG_SECONDS)
        return result

    assert asyncio.run(scenario()).ok


def test_a_request_is_reported_refused_only_if_the_run_ended_without_it() -> None:
    resumed = ev.RunResumed(at=2.0)
    # Resumed, then it ran to its end before the caller looked: the resume was applied.
    _check_applied(
        "r", [resumed, ev.RunSucceeded(at=3.0, outputs={})], RunStatus.SUCCEEDED, "resume"
    )
    with pytest.raises(RunStateError, match="'r' has already succeeded before the resume"):
        _check_applied("r", [ev.RunSucceeded(at=3.0, outputs={})], RunStatus.SUCCEEDED, "resume")
    _check_applied("r", [ev.RunCancelled(at=3.0)], RunStatus.CANCELLED, "cancel")
    _check_applied("r", [], RunStatus.PAUSED, "pause")  # still in flight: nothing to say


def test_a_freed_slot_takes_its_next_step_before_the_result_that_freed_it_is_recorded(
    service: Service,
) -> None:
    # Twelve one-step chains on two slots: no result readies anything that outranks the
    # queued roots, so each slot's next root starts before the result is folded
    # (`RunMachine.vacate`), and the journal shows that start before that success.
    steps = "\n".join(
        f"  - {{id: s{i}, action: sleep, inputs: {{seconds: 0.002}}, outputs: {{slept: slept}}}}"
        for i in range(12)
    )
    workflow = plan(
        f"engine: {{max_concurrency: 2}}\noutputs: [{{name: last, from: $steps.s11.slept}}]\n"
        f"steps:\n{steps}"
    )
    result = run(service, workflow)
    assert result.status == "succeeded"
    assert result.outputs == {"last": 0.002}
    events = service.store.read(result.run_id)
    early = [
        (first, then)
        for first, then in zip(events, events[1:], strict=False)
        if isinstance(first, ev.StepStarted) and isinstance(then, ev.StepSucceeded)
    ]
    assert early, "no start came before the success that freed its slot"
    assert all(then.at <= first.at for first, then in early)  # when the step ended, still
    running, most = 0, 0
    for event in events:
        running += isinstance(event, ev.StepStarted) - isinstance(event, ev.StepSucceeded)
        most = max(most, running)
    assert most == 3  # in the journal, one vacated attempt more than the two slots at most
    successes = [e for e in events if isinstance(e, ev.StepSucceeded)]
    assert len(successes) == 12
