"""Step functions the benchmark workflows call as `bench.steps:<name>`."""

from __future__ import annotations

import asyncio
from typing import Any

import kflow


def trivial() -> dict[str, Any]:
    """Do nothing and return an empty result: the cheapest realistic Python step."""
    return {}


@kflow.in_thread
def trivial_in_thread() -> dict[str, Any]:
    """`trivial`, kept in worker threads: what a function that blocks pays per step."""
    return {}


async def slow_add(x: int, y: int, seconds: float) -> dict[str, Any]:
    """Wait `seconds` on the event loop, then return {"value": x + y}."""
    await asyncio.sleep(seconds)
    return {"value": x + y}
