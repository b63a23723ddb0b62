"""The registry of benchmark workloads: one function each, with its name, action and target.

A workload function takes `quick` (tiny sizes for smoke tests) and returns the `Job` to
time: a workflow spec, how many runs of it execute together in one worker, the
concurrency limit, and, where one is known, the lower bound on its makespan.
To add a workload, write a function and decorate it with `@workload(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from kflow.spec.models import WorkflowSpec

PY_STEP = "bench.steps:trivial"
"""The trivial sync Python function the `py fn` workloads run at every step."""

Metric = Literal["ms_per_step", "x_commit", "x_ideal", "steps_per_s"]
_UNITS: dict[Metric, str] = {
    "ms_per_step": "ms/step",
    "x_commit": "x commit",
    "x_ideal": "x ideal",
    "steps_per_s": "steps/s",
}


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on one metric of a workload's result, e.g. `ms_per_step < 2`."""

    metric: Metric
    limit: float
    higher_is_better: bool = False

    def describe(self) -> str:
        """The target as people read it, e.g. `< 2 ms/step` or `<= 1.10x ideal`."""
        op = ">=" if self.higher_is_better else "<="
        if self.metric == "x_ideal":
            return f"{op} {self.limit:.2f}x ideal"
        return f"{op} {self.limit:g} {_UNITS[self.metric]}"

    def met(self, value: float) -> bool:
        """Whether `value` of the metric meets the target."""
        return value >= self.limit if self.higher_is_better else value <= self.limit


def format_metric(metric: Metric, value: float) -> str:
    """A metric's value with its unit, e.g. `0.153 ms/step` or `1.03x ideal`."""
    if metric == "x_ideal":
        return f"{value:.2f}x ideal"
    if metric == "x_commit":
        return f"{value:.1f}x commit"
    if metric == "steps_per_s":
        return f"{value:,.0f} steps/s"
    return f"{value:.3f} ms/step"


@dataclass(frozen=True, slots=True)
class Job:
    """What one trial executes: `runs` runs of `spec`, all at once in one worker."""

    spec: WorkflowSpec
    runs: int = 1
    max_concurrency: int = 8
    ideal_seconds: float | None = None
    """The lower bound on the makespan (e.g. the critical path of sleeping steps)."""

    @property
    def steps(self) -> int:
        """Steps executed in all runs together."""
        return len(self.spec.steps) * self.runs


@dataclass(frozen=True, slots=True)
class Workload:
    """A named benchmark: how to build its job, which action its steps run, its target."""

    name: str
    action: str
    summary: str
    make: Callable[[bool], Job]
    target: Target | None = None


REGISTRY: dict[str, Workload] = {}
"""Every workload, in the order the table prints them."""


def workload(
    name: str, action: str, target: Target | None = None
) -> Callable[[Callable[[bool], Job]], Callable[[bool], Job]]:
    """Register the decorated job builder as workload `name` (its docstring is the summary)."""

    def register(make: Callable[[bool], Job]) -> Callable[[bool], Job]:
        if name in REGISTRY:
            raise ValueError(f"workload '{name}' is registered twice")
        summary = (make.__doc__ or name).strip().splitlines()[0]
        REGISTRY[name] = Workload(name, action, summary, make, target)
        return make

    return register


def select(names: Iterable[str]) -> list[Workload]:
    """The workloads named, or whose name starts with `NAME-`; all of them if none is named."""
    wanted = list(names)
    if not wanted:
        return list(REGISTRY.values())
    chosen = [
        w
        for w in REGISTRY.values()
        if any(w.name == n or w.name.startswith(n + "-") for n in wanted)
    ]
    unknown = [
        n for n in wanted if not any(w.name == n or w.name.startswith(n + "-") for w in chosen)
    ]
    if unknown:
        raise KeyError(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(REGISTRY)}"
        )
    return chosen


# -- shapes -------------------------------------------------------------------


def _step(step_id: str, action: str, depends_on: list[str], **inputs: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"id": step_id, "action": action}
    if depends_on:
        step["depends_on"] = depends_on
    if inputs:
        step["inputs"] = inputs
    return step


def chain_spec(length: int, action: str) -> WorkflowSpec:
    """`length` steps, each depending on the one before."""
    steps = [_step(f"s{i}", action, [f"s{i - 1}"] if i else []) for i in range(length)]
    return WorkflowSpec.model_validate({"id": f"chain-{length}", "steps": steps})


def fanout_spec(width: int, action: str) -> WorkflowSpec:
    """One step, `width` steps that depend on it, and one step that depends on them all."""
    middle = [f"m{i}" for i in range(width)]
    steps = [
        _step("source", action, []),
        *(_step(m, action, ["source"]) for m in middle),
        _step("sink", action, middle),
    ]
    return WorkflowSpec.model_validate({"id": f"fanout-{width}", "steps": steps})


def layers_spec(layers: int, width: int, action: str, **inputs: Any) -> WorkflowSpec:
    """`layers` layers of `width` steps; each step depends on the whole previous layer."""
    steps = []
    for layer in range(layers):
        previous = [f"l{layer - 1}_{i}" for i in range(width)] if layer else []
        steps += [_step(f"l{layer}_{i}", action, previous, **inputs) for i in range(width)]
    return WorkflowSpec.model_validate({"id": f"layers-{layers}x{width}", "steps": steps})


# -- the workloads --------------------------------------------------------------

CHAIN_TARGET = Target("ms_per_step", 2.0)


@workload("chain", "py fn", CHAIN_TARGET)
def chain(quick: bool) -> Job:
    """A sequential chain of 200 trivial steps."""
    return Job(chain_spec(20 if quick else 200, PY_STEP))


@workload("chain-noop", "noop", CHAIN_TARGET)
def chain_noop(quick: bool) -> Job:
    """A sequential chain of 200 built-in `noop` steps."""
    return Job(chain_spec(20 if quick else 200, "noop"))


@workload("fanout", "py fn")
def fanout(quick: bool) -> Job:
    """Fan-out 1 -> 500 -> 1 of trivial steps (8 at a time)."""
    return Job(fanout_spec(50 if quick else 500, PY_STEP))


@workload("fanout-noop", "noop")
def fanout_noop(quick: bool) -> Job:
    """Fan-out 1 -> 500 -> 1 of built-in `noop` steps (8 at a time)."""
    return Job(fanout_spec(50 if quick else 500, "noop"))


@workload("many", "py fn")
def many(quick: bool) -> Job:
    """200 runs of a 5-step chain, created then executed concurrently by one worker."""
    return Job(chain_spec(5, PY_STEP), runs=20 if quick else 200)


@workload("many-noop", "noop")
def many_noop(quick: bool) -> Job:
    """200 runs of a 5-step `noop` chain, created then executed concurrently by one worker."""
    return Job(chain_spec(5, "noop"), runs=20 if quick else 200)


@workload("sleepy", "sleep", Target("x_ideal", 1.10))
def sleepy(quick: bool) -> Job:
    """10 layers x 4 steps that each sleep 50 ms, 4 slots: makespan vs the ideal 0.5 s."""
    layers, seconds = (3, 0.01) if quick else (10, 0.05)
    spec = layers_spec(layers, 4, "sleep", seconds=seconds)
    return Job(spec, max_concurrency=4, ideal_seconds=layers * seconds)
