"""Sync functions proved quick run on the loop without a task: same results, same errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kflow.actions import python as python_module
from kflow.actions.placement import Placement
from kflow.plan import Plan, load_plan
from kflow.runtime import Service
from tests.integration import steps

S = "tests.integration.steps"


class _Proven(Placement):
    """A placement whose function has already proved quick (whatever this machine measures)."""

    def __init__(self, pinned: bool = False) -> None:
        super().__init__(pinned)
        self.on_loop = not pinned


@pytest.fixture(autouse=True)
def proven(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_module, "Placement", _Proven)


def fan_out(function: str, count: int, *outputs: str) -> Plan:
    wanted = ", ".join(f"{{name: {o}, from: $steps.each.{o}}}" for o in outputs)
    return load_plan(
        f"""
outputs: [{wanted}]
steps:
  - {{id: items, action: echo, inputs: {{xs: {list(range(count))}}}, outputs: {{xs: xs}}}}
  - id: each
    action: "{S}:{function}"
    parallel: {{over: item}}
    inputs: {{item: $steps.items.xs}}
""",
        "inline.yaml",
    )


def test_a_quick_function_runs_without_a_task_and_knows_its_step(service: Service) -> None:
    result = asyncio.run(service.run(fan_out("where", 20, "item", "inline", "index")))
    assert result.ok, result.error
    assert result.outputs == {
        "item": list(range(20)),
        "inline": [True] * 20,
        "index": list(range(20)),
    }


def test_a_coroutine_a_sync_function_returns_is_awaited_in_its_step(service: Service) -> None:
    result = asyncio.run(service.run(fan_out("returns_coroutine", 5, "item", "index")))
    assert result.ok, result.error
    assert result.outputs == {"item": list(range(5)), "index": list(range(5))}


def test_an_inline_call_that_raises_fails_the_attempt_and_is_retried(service: Service) -> None:
    steps.reset()
    workflow = load_plan(
        f"outputs: [{{name: out, from: $steps.f.attempts}}]\n"
        f'steps:\n  - {{id: f, action: "{S}:fails_once_inline", inputs: {{name: x}}, retries: 1}}\n',
        "inline.yaml",
    )
    result = asyncio.run(service.run(workflow))
    assert result.ok and result.outputs == {"out": 2}
    first = service.status(result.run_id).steps[0]
    assert first.attempts == 2


def test_an_inline_call_that_raises_for_good_reports_the_error(service: Service) -> None:
    result = asyncio.run(service.run(load_plan(f'steps:\n  - {{id: b, action: "{S}:boom"}}\n')))
    assert result.status == "failed"
    assert result.error == "ValueError: the answer was not 42"
    details = service.status(result.run_id).steps[0].details
    assert details is not None and "in boom" in details


def test_an_inline_call_that_starts_its_own_loop_runs_again_in_a_thread(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    workflow = load_plan(
        f"outputs: [{{name: answer, from: $steps.n.answer}}, {{name: thread, from: $steps.n.thread}}]\n"
        f'steps:\n  - {{id: n, action: "{S}:nests_a_loop"}}\n',
        "inline.yaml",
    )
    result = asyncio.run(service.run(workflow))
    assert result.ok, result.error
    assert result.outputs is not None and result.outputs["answer"] == 42
    assert result.outputs["thread"].startswith("kflow-step")
    assert "starts an event loop of its own" in caplog.text


def test_calls_queued_inline_go_to_threads_once_their_function_is_demoted(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fifty calls queued at once of a function that has just turned slow: the first
    # holds up the loop and demotes it; the others must not hold it up as well.
    monkeypatch.setattr(steps, "slow_from_now", True)
    monkeypatch.setattr(steps, "placed", [])
    result = asyncio.run(service.run(fan_out("quick_until_told", 50, "item"), max_concurrency=50))
    assert result.ok, result.error
    assert steps.placed.count(True) == 1 and len(steps.placed) == 50


def test_a_cancelled_error_raised_inline_fails_the_attempt(service: Service) -> None:
    workflow = load_plan(f'steps:\n  - {{id: c, action: "{S}:cancelled_inside"}}\n', "c.yaml")
    result = asyncio.run(asyncio.wait_for(service.run(workflow), 10))
    assert result.status == "failed" and result.error == "the action was cancelled"
