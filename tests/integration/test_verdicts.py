"""A new sync function's first calls prove it quick or slow; the calls started meanwhile
wait for that verdict without a task each, then run inline or in threads."""

from __future__ import annotations

import asyncio
import collections

import pytest

from kflow.actions.placement import PROMOTE_AFTER
from kflow.plan import Plan, load_plan
from kflow.runtime import Service
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
