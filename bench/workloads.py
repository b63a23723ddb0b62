"""Every workload, in the order the table prints them.

The workloads live in modules named for what they measure; importing them registers them
(see `bench.registry`). Issue 4's targets are set where each workload is defined.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench import makespan, recovery, startup, throughput, timers
from bench.registry import Workload, ordered
from bench.registry import select as _select

MODULES = (throughput, makespan, timers, startup, recovery)
"""The modules that define workloads (imported for their registrations)."""
FAMILIES = ("chain", "fanout", "many", "timers", "sleepy", "dag", "start", "recover")
"""The table's order: `chain` stands for `chain` and every `chain-*`."""
REGISTRY: dict[str, Workload] = ordered(FAMILIES)


def select(names: Iterable[str]) -> list[Workload]:
    """The workloads named, or whose name starts with `NAME-`; all of them if none is named."""
    return _select(REGISTRY, names)
