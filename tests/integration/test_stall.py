"""A step that blocks the event loop is named while it blocks, and its run still succeeds."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kflow.plan import load_plan
from kflow.runtime import Service
from kflow.runtime.stall import stall_watch

S = "tests.integration.steps"


def test_an_async_step_that_blocks_the_loop_is_reported_with_where_it_blocks(
    service: Service, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stall_watch, "stall_seconds", 0.3)
    caplog.set_level(logging.WARNING, logger="kflow.runtime.stall")
    plan = load_plan(
        f"""
steps:
  - {{id: nap, action: "{S}:blocks_the_loop", inputs: {{seconds: 0.9}}}}
""",
        "stall.yaml",
    )
    result = asyncio.run(service.run(plan))
    assert result.ok, result.error
    warnings = [r.getMessage() for r in caplog.records]
    blocked = [m for m in warnings if "has not run for" in m]
    assert len(blocked) == 1, warnings
    assert "in blocks_the_loop" in blocked[0] and "time.sleep(seconds)" in blocked[0]
    assert any("runs again after being blocked" in m for m in warnings), warnings
