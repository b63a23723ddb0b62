"""The registry of workloads: a trial function each, with its name, action and targets.

A trial runs one fresh measurement in a new SQLite file and returns a `Sample`. To add a
workload, write a trial function and decorate it with `@workload(...)` in a module that
`bench.workloads` imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.metrics import Target
from kflow.store.sqlite import Durability


@dataclass(frozen=True, slots=True)
class Sample:
    """One trial's measurement: its headline wall time, the steps it covered, other values."""

    seconds: float
    steps: int
    runs: int = 1
    values: dict[str, float] = field(default_factory=dict)
    """Metrics the trial measured itself (e.g. `rss_mib`), and values shown as notes."""

    def to_json(self) -> dict[str, Any]:
        """The form `python -m bench.trial` prints."""
        return {"seconds": self.seconds, "steps": self.steps, "runs": self.runs, **self.values}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        """The sample `to_json` printed."""
        values = {k: float(v) for k, v in data.items() if k not in ("seconds", "steps", "runs")}
        return cls(float(data["seconds"]), int(data["steps"]), int(data["runs"]), values)


Trial = Callable[[Path, Durability, bool], Sample]
"""`trial(db, durability, quick)`: one fresh measurement using the SQLite file `db`."""


@dataclass(frozen=True, slots=True)
class Workload:
    """A named benchmark: its trial, which action its steps run, and its targets."""

    name: str
    action: str
    summary: str
    trial: Trial
    targets: tuple[Target, ...] = ()
    sleeps: bool = False
    """Its time is mostly steps sleeping, so a multiple of the raw commit means nothing."""
    isolated: bool = False
    """Always run in a new interpreter (e.g. to measure the process's peak RSS)."""
    max_repeat: int | None = None
    """Run at most this many trials, whatever `--repeat` says (slow workloads)."""


REGISTERED: dict[str, Workload] = {}
"""Every workload, in the order the modules registered them (see `bench.workloads`)."""


def workload(
    name: str,
    action: str,
    *targets: Target,
    sleeps: bool = False,
    isolated: bool = False,
    max_repeat: int | None = None,
) -> Callable[[Trial], Trial]:
    """Register the decorated trial as workload `name` (its docstring is the summary)."""

    def register(trial: Trial) -> Trial:
        if name in REGISTERED:
            raise ValueError(f"workload '{name}' is registered twice")
        summary = (trial.__doc__ or name).strip().splitlines()[0]
        REGISTERED[name] = Workload(
            name, action, summary, trial, tuple(targets), sleeps, isolated, max_repeat
        )
        return trial

    return register


def ordered(families: Iterable[str]) -> dict[str, Workload]:
    """The registered workloads, family by family (`chain` holds `chain` and `chain-*`)."""
    order = list(families)

    def family(name: str) -> int:
        for i, prefix in enumerate(order):
            if name == prefix or name.startswith(prefix + "-"):
                return i
        return len(order)

    names = sorted(REGISTERED, key=lambda n: (family(n), list(REGISTERED).index(n)))
    return {n: REGISTERED[n] for n in names}


def select(registry: dict[str, Workload], names: Iterable[str]) -> list[Workload]:
    """The workloads named, or whose name starts with `NAME-`; all of them if none is named."""
    wanted = list(names)
    if not wanted:
        return list(registry.values())

    def matches(w: Workload, n: str) -> bool:
        return w.name == n or w.name.startswith(n + "-")

    chosen = [w for w in registry.values() if any(matches(w, n) for n in wanted)]
    unknown = [n for n in wanted if not any(matches(w, n) for w in chosen)]
    if unknown:
        raise KeyError(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(registry)}"
        )
    return chosen
