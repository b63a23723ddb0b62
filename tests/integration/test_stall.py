"""A step that blocks the event loop is named while it blocks, and its run still succeeds;
a step that waits as it should is not reported."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kflow.plan import load_plan
from kflow.runtime import Service
from kflow.runtime.stall import stall_watch
from tests.unit.runtime.test_stall import logged_eventually

S = "tests.integration.steps"


def _run(service: Service, *steps: str) -> None:
    """Run a workflow of these steps (flow mappings) to its success."""
    plan = load_plan("steps:\n" + "".join(f"  - {step}\n" for step in steps), "stall.yaml")
    result = asyncio.run(service.run(plan))
    assert result.ok, result.error


@pytest.fixture(autouse=True)
def _quick_watch(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(stall_watch, "stall_seconds", 0.6)  # the loop ticks every 0.2 s
    caplog.set_level(logging.WARNING, logger="kflow.runtime.stall")


def test_an_async_step_that_blocks_the_loop_is_reported_with_where_it_blocks(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    _run(service, f'{{id: nap, action: "{S}:blocks_the_loop", inputs: {{seconds: 1.5}}}}')
    assert logged_eventually(caplog, "runs again after")
    warnings = [r.getMessage() for r in caplog.records]
    blocked = [m for m in warnings if "has not run for" in m]
    assert len(blocked) == 1, warnings
    assert "a step blocks it" in blocked[0]
    assert "in blocks_the_loop" in blocked[0] and "time.sleep(seconds)" in blocked[0]


def test_a_step_that_awaits_is_not_reported(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    _run(
        service,
        f'{{id: nap, action: "{S}:probe", inputs: {{seconds: 1.5}}}}',
        "{id: sleep, action: sleep, inputs: {seconds: 0.5}, depends_on: [nap]}",
    )
    assert caplog.records == []
