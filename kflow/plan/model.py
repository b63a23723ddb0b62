"""The executable plan: a workflow compiled into a graph the engine can run."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from kflow.expr import Ref, Template
from kflow.spec.models import InputSpec, OnFailure, WorkflowSpec

ActionKind = Literal["agent", "python", "shell", "sleep", "echo", "noop"]
BUILTIN_ACTIONS: frozenset[str] = frozenset({"shell", "sleep", "echo", "noop"})


@dataclass(frozen=True, slots=True)
class ActionRef:
    """What a step runs: an agent's action, a `module:function`, or a built-in."""

    kind: ActionKind
    target: str
    """Agent name, `module:function`, or the built-in's name."""
    method: str | None = None
    """The agent's action (method) name; None for other kinds."""

    def __str__(self) -> str:
        return f"{self.target}.{self.method}" if self.kind == "agent" else self.target


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries after a retryable failure, with capped exponential backoff and jitter."""

    max_retries: int = 0
    backoff: Literal["exponential", "fixed"] = "exponential"
    initial_delay: float = 1.0
    max_delay: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.1
    """Fraction of the delay added at random (deterministic per attempt, see `delay`)."""

    def delay(self, attempt: int, key: str) -> float:
        """Seconds to wait before attempt `attempt + 1`; `key` seeds the jitter so replays agree."""
        base = self.initial_delay
        if self.backoff == "exponential":
            base = self.initial_delay * self.multiplier ** max(attempt - 1, 0)
        base = min(base, self.max_delay)
        digest = hashlib.blake2b(f"{key}:{attempt}".encode(), digest_size=8).digest()
        fraction = int.from_bytes(digest, "big") / 2**64
        return min(base * (1 + self.jitter * fraction), self.max_delay)


@dataclass(frozen=True, slots=True)
class FanOut:
    """`parallel: true`: run the step once per item of the list input `over`."""

    over: str | None
    """The input to fan out over; None means the single input whose value is a list."""
    max_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One node of the graph, with everything the engine and runtime need."""

    id: str
    action: ActionRef
    inputs: Mapping[str, Template]
    flat_inputs: bool
    """No input holds a reference or a container: the inputs are copied, not rendered."""
    outputs: Mapping[str, str]
    """Step output name -> key in the action's result (empty: the whole result dict)."""
    depends_on: tuple[str, ...]
    """Explicit `depends_on` plus every step referenced by the inputs, in definition order."""
    dependents: tuple[str, ...]
    fan_out: FanOut | None
    retry: RetryPolicy
    timeout: float | None
    on_failure: OnFailure
    fallback: ActionRef | None
    escalation: ActionRef | None
    priority: float
    """Length of the longest path from this step to a sink, in seconds (a step weighs its
    `estimate` or its sleep) or, with nothing to weigh, in steps: critical path first."""


@dataclass(frozen=True, slots=True)
class OutputBinding:
    """A workflow output and the step output it is read from."""

    name: str
    ref: Ref


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated, compiled workflow."""

    workflow_id: str
    version: str
    digest: str
    """sha256 of the canonical JSON of the spec: identifies the definition a run used."""
    steps: Mapping[str, PlanStep]
    order: tuple[str, ...]
    """A topological order of the step ids (definition order among independent steps)."""
    rank: Mapping[str, int]
    """Each step id's place in the ready queue: higher `priority` first (in seconds, by
    bands of 1.5%: `kflow.plan.compile.priority_band`), then `order`."""
    ranked: tuple[str, ...]
    """The step ids by rank (`ranked[rank[step_id]] == step_id`)."""
    dependent_rank: Mapping[str, int]
    """Each step id's best (lowest) rank among the steps that depend on it; the number of
    steps for a step nothing depends on. Whatever its result makes ready ranks no better."""
    waiting: Mapping[str, int]
    """Each step id's number of dependencies, in `order`."""
    roots: tuple[str, ...]
    """The steps without dependencies, in `order`: a run starts with them."""
    plain_roots: Mapping[str, Mapping[str, Template]]
    """The roots that do not fan out and whose inputs are plain values, with those inputs,
    best rank first: a run makes them ready without rendering anything."""
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputBinding, ...]
    max_concurrency: int
    sequential: bool
    timeout: float | None
    spec: WorkflowSpec = field(repr=False, compare=False)
