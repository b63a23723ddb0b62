"""A new sync function's first calls prove it quick or slow; the calls started meanwhile
wait for that verdict without a task each, then run inline or in threads."""

from __future__ import annotations

import asyncio
import collections
import gc
import time
from typing import Any

import pytest

from kflow.actions.placement import PROMOTE_AFTER
from kflow.actions.python import PythonAction
from kflow.engine import events as ev
from kflow.plan import Plan, load_plan
from kflow.runtime import Service
from kflow.runtime.driver import RunDriver
from kflow.store import SqliteStore
from tests.integration import steps

S = "tests.integration.steps"


def fan_out(function: str, count: int, **inputs: float) -> Plan:
    extra = "".join(f", {name}: {value}" for name, value in inputs.items())
    return load_plan(
        f"""
outputs: [{{name: ran, from: $steps.each.ran}}]
steps:
  - {{id: items, action: echo, inputs: {{xs: {list(range(count))}}}, outputs: {{xs: xs}}}}
  - id: each
    action: "{S}:{function}"
    parallel: {{over: item}}
    inputs: {{item: $steps.items.xs{extra}}}
""",
        "verdict.yaml",
    )


def places(service: Service, workflow: Plan) -> collections.Counter[str]:
    result = asyncio.run(asyncio.wait_for(service.run(workflow, max_concurrency=200), 30))
    assert result.ok, result.error
    assert result.outputs is not None
    return collections.Counter(result.outputs["ran"])


def test_calls_waiting_for_a_quick_verdict_then_run_inline(service: Service) -> None:
    store = service.store
    assert isinstance(store, SqliteStore)
    # 200 calls of a new function at once: the first 16 go to threads to prove it quick;
    # the rest wait for them, then run inline. A noisy machine may spoil the proof (the
    # waiting calls then go to threads too): try again, each time with a new function.
    for _ in range(10):
        ran = places(Service(store, service.config), fan_out("where_it_ran", 200))
        if ran["inline"] == 200 - PROMOTE_AFTER:
            break
    assert ran == {"thread": PROMOTE_AFTER, "inline": 200 - PROMOTE_AFTER}


def test_calls_waiting_for_a_slow_verdict_then_run_in_threads(service: Service) -> None:
    ran = places(service, fan_out("where_it_ran", 40, nap=0.02))
    assert ran == {"thread": 40}  # none in a task of its own, none on the loop


def test_calls_waiting_for_a_verdict_are_dropped_when_the_run_is_cancelled(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(steps, "held_calls", 0)
    steps.let_go.clear()

    async def cancel_while_they_wait() -> None:
        run = asyncio.ensure_future(service.run(fan_out("held", 100), max_concurrency=100))
        while steps.held_calls < PROMOTE_AFTER:  # the provers are under way in threads
            await asyncio.sleep(0.001)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        steps.let_go.set()  # the provers end: a verdict for calls no longer waiting
        await asyncio.sleep(0.05)

    try:
        asyncio.run(cancel_while_they_wait())
    finally:
        steps.let_go.set()
    assert steps.held_calls == PROMOTE_AFTER


def test_a_verdict_that_comes_as_the_run_ends_starts_no_call(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The verdict resolves the waiting calls' futures; in that same turn, before the
    # driver's callbacks run, the run is cancelled: too late to cancel the futures.
    drivers: list[RunDriver] = []
    original_init = RunDriver.__init__

    def keep(self: RunDriver, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        drivers.append(self)

    original_verdict = PythonAction.awaiting_verdict

    def cancelled_as_it_lands(self: PythonAction) -> asyncio.Future[None] | None:
        verdict = original_verdict(self)
        if verdict is not None:  # this callback runs before the driver's own
            verdict.add_done_callback(lambda _: cancel(drivers[0]))
        return verdict

    def cancel(driver: RunDriver) -> None:
        if not driver.machine.state.status.finished:
            driver.record(ev.RunCancelled(at=time.time(), reason="test"))

    monkeypatch.setattr(RunDriver, "__init__", keep)
    monkeypatch.setattr(PythonAction, "awaiting_verdict", cancelled_as_it_lands)
    monkeypatch.setattr(steps, "held_calls", 0)
    steps.let_go.set()
    result = asyncio.run(
        asyncio.wait_for(service.run(fan_out("held", 100), max_concurrency=100), 30)
    )
    assert result.status == "cancelled"
    assert steps.held_calls == PROMOTE_AFTER  # only the calls that were proving it


def test_calls_sent_to_threads_as_the_run_ends_leave_no_coroutine_unawaited(
    service: Service, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    # The run is cancelled in the turn its calls went to threads: their tasks are
    # cancelled before they start, and what they would have awaited must be closed.
    original = RunDriver._call_inline
    calls = 0

    def cancel_after_the_third(self: RunDriver, start: Any, action: Any) -> None:
        nonlocal calls
        original(self, start, action)
        calls += 1
        if calls == 3 and not self.machine.state.status.finished:
            self.record(ev.RunCancelled(at=time.time(), reason="test"))

    monkeypatch.setattr(RunDriver, "_call_inline", cancel_after_the_third)
    result = asyncio.run(asyncio.wait_for(service.run(fan_out("where_it_ran", 5)), 30))
    assert result.status == "cancelled"
    gc.collect()
    assert [str(w.message) for w in recwarn if "never awaited" in str(w.message)] == []
