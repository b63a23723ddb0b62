"""Running workflows for real: concurrency, retries, timeouts, failures, control, group commit."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kflow.actions import KflowConfig
from kflow.actions.builtin import Sleep
from kflow.engine import events as ev
from kflow.errors import InputError, RunStateError, StoreError
from kflow.plan import Plan, load_plan
from kflow.runtime import Service, journal
from kflow.store import Entry, SqliteStore
from tests.integration import steps

S = "tests.integration.steps"


def plan(text: str) -> Plan:
    return load_plan(text, "test.yaml")


def probe_chain(length: int) -> Plan:
    """s0 -> s1 -> ... each a 50 ms probe."""
    return plan(
        "steps:\n"
        + "\n".join(
            f'  - {{id: s{i}, action: "{S}:probe", inputs: {{seconds: 0.05}}'
            + (f", depends_on: [s{i - 1}]}}" if i else "}")
            for i in range(length)
        )
    )


def fan_out(count: int, seconds: float, function: str = "probe", limit: str = "") -> Plan:
    return plan(
        f"""
id: fan
steps:
  - {{id: items, action: echo, inputs: {{xs: {list(range(count))}}}, outputs: {{xs: xs}}}}
  - id: each
    action: "{S}:{function}"
    parallel: {{over: item{limit}}}
    inputs: {{item: $steps.items.xs, seconds: {seconds}}}
"""
    )


def test_max_concurrency_is_never_exceeded_by_async_steps(service: Service) -> None:
    result = asyncio.run(service.run(fan_out(24, 0.02), max_concurrency=5))
    assert result.ok
    assert steps.peak == 5


def test_a_fan_out_limit_caps_its_own_items(service: Service) -> None:
    result = asyncio.run(
        service.run(fan_out(12, 0.02, limit=", max_concurrency: 2"), max_concurrency=8)
    )
    assert result.ok
    assert steps.peak == 2


def test_sync_steps_run_in_threads_in_parallel_up_to_the_limit(service: Service) -> None:
    workflow = plan(
        "\n".join(
            ["steps:"]
            + [
                f'  - {{id: s{i}, action: "{S}:blocking_probe", inputs: {{seconds: 0.1}}}}'
                for i in range(12)
            ]
        )
    )
    started = time.perf_counter()
    result = asyncio.run(service.run(workflow, max_concurrency=12))
    elapsed = time.perf_counter() - started
    assert result.ok
    assert steps.peak == 12
    assert elapsed < 0.6, "twelve 0.1 s steps should overlap"


def test_a_flaky_step_is_retried_until_it_succeeds(service: Service) -> None:
    workflow = plan(
        f"""
outputs: [{{name: attempt, from: $steps.f.attempt}}]
steps:
  - id: f
    action: "{S}:flaky"
    inputs: {{name: f, failures: 2}}
    retry: {{max_retries: 3, initial_delay: 0.01}}
    outputs: {{attempt: attempt}}
"""
    )
    result = asyncio.run(service.run(workflow))
    assert result.ok and result.outputs == {"attempt": 3}
    kinds = [type(e).__name__ for e in service.history(result.run_id)]
    assert kinds.count("StepFailed") == 2 and kinds.count("StepStarted") == 3


def test_a_permanent_failure_fails_the_run_with_the_step_and_the_message(service: Service) -> None:
    workflow = plan(
        f'steps:\n  - {{id: f, action: "{S}:flaky", inputs: {{name: p, failures: 9, kind: permanent}}, retries: 5}}\n'
    )
    result = asyncio.run(service.run(workflow))
    assert result.status == "failed" and result.failed_step == "f"
    assert result.error == "p failed on call 1"
    assert steps.attempts["p"] == 1


def test_an_exception_from_an_action_is_classified_and_reported(service: Service) -> None:
    result = asyncio.run(service.run(plan(f'steps:\n  - {{id: b, action: "{S}:boom"}}\n')))
    assert result.status == "failed"
    assert result.error == "ValueError: the answer was not 42"
    details = service.status(result.run_id).steps[0].details  # from the stored journal
    assert details is not None and details.startswith("Traceback (most recent call last)")
    assert "in boom" in details and details.rstrip().endswith("ValueError: the answer was not 42")
    assert "kflow/" not in details, "the traceback should start at the step's own code"


def test_a_deliberate_step_failure_stores_its_details_not_kflows_frames(
    service: Service,
) -> None:
    workflow = plan(
        "steps:\n  - {id: fails, action: shell,"
        ' inputs: {command: [sh, -c, "echo disk is full >&2; exit 3"]}}\n'
    )
    result = asyncio.run(service.run(workflow))
    details = service.status(result.run_id).steps[0].details
    assert details is not None and "disk is full" in details and "Traceback" not in details


def test_a_step_that_times_out_fails_with_a_timeout_error(service: Service) -> None:
    workflow = plan(
        f'steps:\n  - {{id: slow, action: "{S}:probe", inputs: {{seconds: 5}}, timeout: 0.05}}\n'
    )
    started = time.perf_counter()
    result = asyncio.run(service.run(workflow))
    assert time.perf_counter() - started < 2
    view = service.status(result.run_id)
    assert view.steps[0].error_kind == "timeout"
    assert view.steps[0].error == "step 'slow' did not finish within its timeout of 0.05s"


def test_an_output_the_journal_cannot_hold_fails_the_step_and_keeps_the_journal(
    service: Service,
) -> None:
    result = asyncio.run(
        service.run(plan(f'steps:\n  - {{id: u, action: "{S}:unserializable"}}\n'))
    )
    assert result.status == "failed"
    assert result.error is not None and "cannot be stored in the journal" in result.error
    assert isinstance(service.history(result.run_id)[-1], ev.RunFailed)


def test_every_attempt_gets_an_idempotency_key(service: Service) -> None:
    workflow = plan(
        f'outputs: [{{name: key, from: $steps.c.key}}]\nsteps:\n  - {{id: c, action: "{S}:context", outputs: {{key: key}}}}\n'
    )
    result = asyncio.run(service.run(workflow))
    assert result.outputs == {"key": f"{result.run_id}:c:1"}


def test_missing_required_inputs_are_rejected_before_anything_is_stored(service: Service) -> None:
    workflow = plan("inputs: [{name: topic, required: true}]\nsteps:\n  - {id: a, action: noop}\n")
    with pytest.raises(InputError, match="topic"):
        asyncio.run(service.create(workflow, {}))
    assert service.runs() == []


def test_the_workflow_timeout_fails_the_run_and_stops_running_steps(service: Service) -> None:
    workflow = plan(
        f'engine: {{timeout: 0.2}}\nsteps:\n  - {{id: slow, action: "{S}:probe", inputs: {{seconds: 10}}}}\n'
    )
    started = time.perf_counter()
    result = asyncio.run(service.run(workflow))
    assert time.perf_counter() - started < 2
    assert result.status == "failed"
    assert result.error == (
        "the run exceeded its timeout of 0.2s (counted from the start of its first step)"
    )


def test_concurrent_runs_share_commits(service: Service) -> None:
    chain = plan(
        "steps:\n"
        + "\n".join(
            f"  - {{id: s{i}, action: noop{', depends_on: [s%d]' % (i - 1) if i else ''}}}"
            for i in range(5)
        )
    )

    async def many() -> int:
        ids = [await service.create(chain) for _ in range(50)]
        results = await service.execute(ids)
        assert all(r.ok for r in results)
        return len(ids)

    runs = asyncio.run(many())
    events = sum(len(service.history(r.run_id)) for r in service.runs(limit=100))
    assert runs == 50 and events == 50 * (1 + 2 * 5 + 1)


def test_pause_and_resume_from_another_service_while_the_run_executes(service: Service) -> None:
    workflow = probe_chain(8)
    other = Service(service.store)

    async def scenario() -> None:
        run_id = await service.create(workflow)
        execution = asyncio.ensure_future(service.execute([run_id]))
        await asyncio.sleep(0.12)
        assert await other.pause(run_id, "checking something") == "requested"
        paused = other.status(run_id)
        assert paused.status == "paused" and paused.reason == "checking something"
        done_then = paused.counts().get("succeeded", 0)
        await asyncio.sleep(0.3)
        assert other.status(run_id).counts().get("succeeded", 0) <= done_then + 1
        assert await other.resume(run_id) == "requested"
        (result,) = await execution
        assert result.ok

    asyncio.run(scenario())


def cancelled_while_running(
    service: Service, workflow: Plan, reason: str, *, linger: float = 0.0
) -> str:
    """Execute `workflow`, cancel it from another service 0.1 s in; wait `linger` after."""

    async def scenario() -> str:
        run_id = await service.create(workflow)
        execution = asyncio.ensure_future(service.execute([run_id]))
        await asyncio.sleep(0.1)
        await Service(service.store).cancel(run_id, reason)
        (result,) = await asyncio.wait_for(execution, 5)
        assert result.status == "cancelled"
        await asyncio.sleep(linger)
        return run_id

    return asyncio.run(scenario())


def test_cancel_records_the_reason_and_stops_running_steps(service: Service) -> None:
    workflow = plan(f'steps:\n  - {{id: slow, action: "{S}:probe", inputs: {{seconds: 30}}}}\n')
    run_id = cancelled_while_running(service, workflow, "wrong topic")
    assert service.status(run_id).reason == "wrong topic"
    with pytest.raises(RunStateError, match="has already been cancelled; nothing to cancel"):
        asyncio.run(service.cancel(run_id))


def test_a_paused_run_without_a_worker_is_resumed_and_executed_later(service: Service) -> None:
    workflow = plan("steps:\n  - {id: a, action: noop}\n")

    async def scenario() -> None:
        run_id = await service.create(workflow)
        assert await service.pause(run_id) == "paused"
        assert service.status(run_id).status == "paused"
        assert await service.resume(run_id) == "resumed"
        (result,) = await service.execute([run_id])
        assert result.ok

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("cancels_itself", "the action was cancelled"),
        ("cyclic", "cannot be stored in the journal"),
        ("unprintable", "_Unprintable (unprintable)"),
    ],
)
def test_odd_failures_end_the_step_instead_of_leaving_it_running(
    service: Service, function: str, message: str
) -> None:
    result = asyncio.run(
        asyncio.wait_for(
            service.run(plan(f'steps:\n  - {{id: odd, action: "{S}:{function}"}}\n')), 10
        )
    )
    assert result.status == "failed"
    assert result.error is not None and message in result.error


def test_two_executions_in_one_event_loop_share_the_thread_pool(service: Service) -> None:
    quick = plan(
        f'steps:\n  - {{id: q, action: "{S}:blocking_probe", inputs: {{seconds: 0.01}}}}\n'
    )
    slow = plan(f'steps:\n  - {{id: s, action: "{S}:blocking_probe", inputs: {{seconds: 0.3}}}}\n')

    async def both() -> list[str]:
        results = await asyncio.gather(service.run(quick), service.run(slow))
        assert await asyncio.to_thread(lambda: 1) == 1  # the loop's pool still works
        return [r.status for r in results]

    assert asyncio.run(both()) == ["succeeded", "succeeded"]


def test_a_run_executing_in_one_thread_can_be_paused_from_another(service: Service) -> None:
    import threading

    workflow = probe_chain(6)
    run_id = asyncio.run(service.create(workflow))
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(asyncio.run(service.execute([run_id]))[0].status)
    )
    worker.start()
    time.sleep(0.1)
    assert asyncio.run(service.pause(run_id)) == "requested"
    assert service.status(run_id).status == "paused"
    assert asyncio.run(service.resume(run_id)) == "requested"
    worker.join(10)
    assert outcome == ["succeeded"]


def test_run_states_are_kept_out_of_the_collectors_scans_while_a_worker_drives_them(
    service: Service,
) -> None:
    # A full garbage collection over a large run's state would stall every timer.
    frozen_while_running: list[int] = []

    async def execute() -> bool:
        run_id = await service.create(fan_out(3, 0.01))
        frozen_while_running.append(gc.get_freeze_count())
        result = await service.execute([run_id], [lambda machine, event: sample()])
        return result[0].ok

    def sample() -> None:
        frozen_while_running.append(gc.get_freeze_count())

    assert asyncio.run(execute())
    assert frozen_while_running[0] == 0 and max(frozen_while_running) > 0
    assert gc.get_freeze_count() == 0  # undone when the worker stops


def items_workflow(on_failure: str, bad: list[int], seconds: float) -> Plan:
    return plan(
        f"""
id: items
outputs: [{{name: seen, from: $steps.after.seen}}]
steps:
  - id: each
    action: "{S}:item_or_fail"
    parallel: {{over: item, max_concurrency: 2}}
    inputs: {{item: [0, 1, 2, 3, 4, 5], bad: {bad}, seconds: {seconds}}}
    outputs: {{item: item}}
    on_failure: {on_failure}
  - {{id: after, action: echo, inputs: {{seen: $steps.each.item}}, outputs: {{seen: seen}}}}
"""
    )


def test_a_fan_out_with_continue_runs_every_item_and_nulls_the_failed_ones(
    service: Service,
) -> None:
    result = asyncio.run(service.run(items_workflow("continue", [1, 4], 0.01)))
    assert result.ok
    assert result.outputs == {"seen": [0, None, 2, 3, None, 5]}
    assert steps.attempts == {f"item{i}": 1 for i in range(6)}
    view = service.status(result.run_id)
    each = next(s for s in view.steps if s.id == "each")
    assert (each.status, each.items, each.items_done) == ("succeeded", 6, 4)
    assert each.error_kind == "permanent"
    assert each.error == (
        "2 of 6 items failed (on_failure: continue, so their outputs are null): "
        "[1] item 1 is bad | [4] item 4 is bad"
    )
    failures = [e for e in service.history(result.run_id) if isinstance(e, ev.StepFailed)]
    assert [(e.index, e.decision, e.error.message) for e in failures] == [
        (1, "continue", "item 1 is bad"),
        (4, "continue", "item 4 is bad"),
    ]


def test_a_failed_item_of_a_fan_out_with_fail_starts_no_more_items_and_fails_the_run(
    service: Service,
) -> None:
    result = asyncio.run(asyncio.wait_for(service.run(items_workflow("fail", [0], 0.2)), 10))
    assert result.status == "failed" and result.failed_step == "each"
    assert result.error == "item 0 is bad"
    # Item 1 was running when item 0 failed: it finished; items 2 to 5 never started.
    assert steps.attempts == {"item0": 1, "item1": 1}
    assert steps.active == 0, "an item was left running"
    view = service.status(result.run_id)
    assert [(s.id, s.status) for s in view.steps] == [("each", "failed"), ("after", "skipped")]


def test_a_failing_fallback_keeps_the_original_error_in_the_run_error(service: Service) -> None:
    workflow = plan(
        f"""
steps:
  - id: f
    action: "{S}:flaky"
    inputs: {{name: p, failures: 9, kind: permanent}}
    fallback: "{S}:broken_fallback"
"""
    )
    result = asyncio.run(service.run(workflow))
    expected = (
        "step 'f' failed: p failed on call 1; its fallback "
        f"({S}:broken_fallback) also failed: ValueError: the fallback is broken too"
    )
    assert result.status == "failed" and result.failed_step == "f"
    assert result.error == expected
    view = service.status(result.run_id)  # folded again from the stored journal
    assert (view.error, view.error_kind) == (expected, "unknown")
    assert (view.steps[0].error, view.steps[0].variant) == (expected, "fallback")
    assert [r.error for r in service.runs()] == [expected]
    failures = [e for e in service.history(result.run_id) if isinstance(e, ev.StepFailed)]
    assert [(e.decision, e.error.message) for e in failures] == [
        ("fallback", "p failed on call 1"),
        ("fail", "ValueError: the fallback is broken too"),
    ]


def test_a_failing_escalation_keeps_the_original_and_the_fallback_errors(
    service: Service,
) -> None:
    boss = Service(service.store, KflowConfig(agents={"kBoss": f"{S}:AwayBoss"}))
    workflow = plan(
        f"""
steps:
  - id: f
    action: "{S}:flaky"
    inputs: {{name: p, failures: 9, kind: permanent}}
    fallback: "{S}:broken_fallback"
    on_failure: escalate
    escalation_agent: kBoss
"""
    )
    result = asyncio.run(boss.run(workflow))
    so_far = (
        "step 'f' failed: p failed on call 1; its fallback "
        f"({S}:broken_fallback) also failed: ValueError: the fallback is broken too"
    )
    assert steps.escalations == [{"step": "f", "error": {"kind": "unknown", "message": so_far}}]
    assert result.status == "failed"
    assert (
        result.error == f"{so_far}; its escalation (kBoss.escalate) also failed: the boss is away"
    )
    assert boss.status(result.run_id).error_kind == "dependency"


def test_a_dependent_starts_only_once_its_dependencys_result_is_committed(
    service: Service, tmp_path: Path
) -> None:
    # A chain r0 -> d0 -> r1 -> d1 ... beside independent steps that reuse freed slots
    # before results are committed: each d_i looks in the journal, at once, for r_i.
    db = tmp_path / "k.db"
    lines = ["steps:"]
    for i in range(6):
        after = f", depends_on: [d{i - 1}]" if i else ""
        lines.append(f"  - {{id: r{i}, action: '{S}:probe', inputs: {{seconds: 0.001}}{after}}}")
        lines.append(
            f"  - {{id: d{i}, action: '{S}:sees_committed', depends_on: [r{i}],"
            f" inputs: {{db: '{db}', after: r{i}}}}}"
        )
    lines += [
        f"  - {{id: free{i}, action: '{S}:probe', inputs: {{seconds: 0.002}}}}" for i in range(8)
    ]
    result = asyncio.run(service.run(plan("\n".join(lines)), max_concurrency=2))
    assert result.ok
    outputs = service.fold(result.run_id).state.step_outputs
    assert [outputs[f"d{i}"]["committed"] for i in range(6)] == [True] * 6


def test_a_result_a_free_slot_waits_for_is_committed_at_once_not_lazily(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were results committed only lazily, this chain would wait a minute per step.
    monkeypatch.setattr(journal, "LAZY_SECONDS", 60.0)
    chain = "\n".join(
        f"  - {{id: s{i}, action: noop" + (f", depends_on: [s{i - 1}]}}" if i else "}")
        for i in range(5)
    )
    result = asyncio.run(asyncio.wait_for(service.run(plan(f"steps:\n{chain}\n")), 20))
    assert result.ok


def test_a_run_is_reported_ended_only_once_its_end_is_committed(tmp_path: Path) -> None:
    # Slow commits in the writer thread: the last step ends while an earlier commit is
    # still in flight, and the commit that holds the run's end then fails.
    store = SqliteStore(tmp_path / "k.db", "full")
    real_append = store.append

    def slow_append(entries: Sequence[Entry], *args: Any, **kwargs: Any) -> None:
        time.sleep(0.05)
        if any(isinstance(entry.event, ev.RunSucceeded) for entry in entries):
            raise StoreError("disk full")
        real_append(entries, *args, **kwargs)

    store.append = slow_append  # type: ignore[method-assign]
    service = Service(store, KflowConfig())
    with pytest.raises(StoreError, match="disk full"):
        asyncio.run(service.run(probe_chain(2)))
    store.close()


def test_sleep_steps_wait_as_timers_not_tasks(service: Service) -> None:
    workflow = plan(
        "id: naps\nsteps:\n"
        "  - {id: xs, action: echo, inputs: {xs: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]}}\n"
        "  - {id: nap, action: sleep, parallel: {over: seconds},"
        " inputs: {seconds: $steps.xs.xs}}\n"
    )

    async def scenario() -> tuple[int, float]:
        started = time.perf_counter()
        execution = asyncio.ensure_future(service.run(workflow, max_concurrency=8))
        await asyncio.sleep(0.15)  # all eight naps are under way now
        tasks = len(asyncio.all_tasks())
        result = await execution
        assert result.ok
        return tasks, time.perf_counter() - started

    tasks, seconds = asyncio.run(scenario())
    assert tasks < 8, f"{tasks} tasks alive while eight sleep steps waited"
    assert 0.3 <= seconds < 1.5


def test_a_sleep_longer_than_its_timeout_fails_at_the_timeout(service: Service) -> None:
    workflow = plan("steps:\n  - {id: nap, action: sleep, inputs: {seconds: 30}, timeout: 0.05}\n")
    started = time.perf_counter()
    result = asyncio.run(service.run(workflow))
    assert time.perf_counter() - started < 2
    step = service.status(result.run_id).steps[0]
    assert (step.status, step.error_kind) == ("failed", "timeout")
    assert step.error == "step 'nap' did not finish within its timeout of 0.05s"


NAP = "inputs:\n  - {name: nap, type: any}\nsteps:\n  - {id: nap, action: sleep, inputs: {seconds: $inputs.nap}}\n"


@pytest.mark.parametrize(
    ("nap", "message"),
    [
        (
            "soon",
            "sleep: `seconds`: 'soon' is not a duration; write seconds as a number or use "
            "units, e.g. 30, '300s', '5m', '1h30m', '250ms'",
        ),
        (10**400, "sleep: `seconds`: 100000000000000000...0000000000000000000 is not a finite"),
        (-1, "sleep: `seconds` must be a number of seconds >= 0, not -1.0"),
    ],
    ids=["not-a-duration", "beyond-a-float", "negative"],
)
def test_a_sleep_with_bad_inputs_fails_with_the_actions_message(
    service: Service, nap: object, message: str
) -> None:
    result = asyncio.run(service.run(plan(NAP), {"nap": nap}))
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(message)


def test_a_timer_action_asking_for_a_wait_no_timer_can_hold_fails_its_step(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A TimerAction of kflow's own always checks its seconds; one that did not must
    # fail its step, not break the loop that drives every run.
    monkeypatch.setattr(Sleep, "seconds", lambda self, inputs: inputs["seconds"])
    result = asyncio.run(service.run(plan(NAP), {"nap": 10**400}))
    assert result.status == "failed"
    assert result.error is not None and "OverflowError" in result.error


def test_a_run_cancelled_while_it_sleeps_records_nothing_after_its_end(service: Service) -> None:
    workflow = plan("steps:\n  - {id: nap, action: sleep, inputs: {seconds: 0.4}}\n")
    # Lingering past the nap's end: its timer must not record anything any more.
    run_id = cancelled_while_running(service, workflow, "not needed", linger=0.5)
    assert isinstance(service.history(run_id)[-1], ev.RunCancelled)


def test_a_cancel_racing_a_worker_that_adopts_the_run_asks_that_worker(
    service: Service, tmp_path: Path
) -> None:
    """`kflow cancel` read no live lease, then `kflow recover` took the run: the cancel's
    own append is refused (it would have stopped the worker) and it asks the worker."""
    workflow = load_plan(
        "steps:\n  - {id: a, action: sleep, inputs: {seconds: 0.3}}\n"
        "  - {id: b, action: noop, depends_on: [a]}\n",
        "t.yaml",
    )
    store = service.store
    assert isinstance(store, SqliteStore)
    other_store = SqliteStore(store.path)  # the `kflow cancel` process
    other = Service(other_store, KflowConfig())
    read_lease = other_store.lease
    leases_read: list[str] = []

    def lease_read_before_the_worker_took_it(run_id: str) -> Any:
        leases_read.append(run_id)
        return None if len(leases_read) == 1 else read_lease(run_id)

    other_store.lease = lease_read_before_the_worker_took_it  # type: ignore[method-assign]

    async def main() -> tuple[str, list[Any]]:
        (run_id,) = await service.create_many(workflow, [{}])  # stored, nobody executes it
        execution = asyncio.create_task(service.execute([run_id]))
        await asyncio.sleep(0.05)  # the worker has taken the lease and started `a`
        answer = await other.cancel(run_id, "at the same moment")
        return answer, await execution

    try:
        answer, (result,) = asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        other_store.close()
    assert answer == "requested"  # the worker carried it out
    assert result.status == "cancelled"
    assert len(leases_read) >= 2  # refused once, then asked the worker (which polls it)
    events = store.read(result.run_id)
    assert [type(e) for e in events].count(ev.RunCancelled) == 1
