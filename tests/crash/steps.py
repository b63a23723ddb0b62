"""Step functions for the crash trials: each leaves a trace of every attempt in a log file."""

from __future__ import annotations

import os
import time
import zlib
from typing import Any

from kflow import current_step


def _trace(value: Any) -> None:
    context = current_step()
    with open(os.environ["KFLOW_CRASH_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{context.step_id},{context.index},{context.attempt}\n")
    # Deterministic, uneven durations so that kills land in many different places.
    time.sleep(0.005 + zlib.crc32(repr(value).encode()) % 7 * 0.004)


def seed(n: int) -> dict[str, Any]:
    """The first step: a list to fan out over."""
    _trace(n)
    return {"items": list(range(n)), "base": n * 10}


def square(item: int, base: int) -> dict[str, Any]:
    """One fan-out item."""
    _trace(item)
    return {"value": base + item * item}


def add(left: Any, right: Any) -> dict[str, Any]:
    """Join two values."""
    _trace((left, right))
    left_total = sum(left) if isinstance(left, list) else left
    right_total = sum(right) if isinstance(right, list) else right
    return {"value": left_total + right_total}
