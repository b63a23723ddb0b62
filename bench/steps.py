"""Trivial step functions the benchmark workflows call as `bench.steps:<name>`."""

from __future__ import annotations

from typing import Any


def trivial() -> dict[str, Any]:
    """Do nothing and return an empty result: the cheapest realistic Python step."""
    return {}
