"""The state of a run, as folded from its journal by `machine.RunMachine`.

The state is mutable on purpose: folding one event updates a few fields in
O(1) per graph edge, which is what lets a 10,000-step run stay cheap.
Only `RunMachine` mutates it; everything else reads.
"""

from __future__ import annotations

import enum
from _collections_abc import dict_items, dict_keys, dict_values
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kflow.engine.events import ErrorInfo, Variant


class StepStatus(enum.StrEnum):
    """Where a step (or one fan-out item) is in its life."""

    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    """It was running when the run ended (cancelled or timed out); its result is ignored."""

    finished: bool
    """Whether nothing more will happen to it."""

    def __init__(self, value: str) -> None:
        # A plain attribute, not a property: it is read several times per step.
        self.finished = value in ("succeeded", "failed", "skipped", "cancelled")


class RunStatus(enum.StrEnum):
    """Where a run is in its life."""

    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    finished: bool
    """Whether the run has ended for good."""

    def __init__(self, value: str) -> None:
        self.finished = value in ("succeeded", "failed", "cancelled")


class TaskState(msgspec.Struct, gc=False):
    """One schedulable unit: a step, or one item of a fan-out step."""

    step: str
    index: int | None
    status: StepStatus = StepStatus.READY
    attempt: int = 0
    """Number of the latest attempt started (0 before the first)."""
    failures: int = 0
    """Failed attempts of the primary action, which the retry budget counts."""
    interruptions: int = 0
    """Times this task was running when its worker died (see `machine.MAX_INTERRUPTIONS`)."""
    variant: Variant = "primary"
    output: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    """The latest failure. Once the fallback or escalation has failed too, its message
    names every link of the chain, starting with the primary action's error."""
    given_up: str | None = None
    """Set when the primary action gave up and a fallback or escalation took over:
    `step 'x' failed: <its error>`, then `; its fallback (...) also failed: <error>` once
    the fallback has failed too. The next failure's message is appended to it."""
    retry_at: float | None = None
    started_at: float | None = None
    """When the latest attempt started."""
    first_started_at: float | None = None
    finished_at: float | None = None
    queued: bool = False
    """Whether the ready queue holds an entry for this task (so it is never queued twice)."""
    ready_seq: int = 0
    """Sequence number of the event that made this task ready: it may start once that
    event is durable (see `RunMachine.decide`)."""


class StepState(msgspec.Struct, gc=False):
    """A step of the plan and its tasks.

    This and `TaskState` are msgspec Structs untracked by the garbage collector: a large
    run makes tens of thousands, which every collection would otherwise scan (a stall of
    the loop each time); they hold only plain data, never anything that refers back.
    """

    id: str
    waiting: int
    """Dependencies not yet succeeded; the step is ready when this reaches 0."""
    status: StepStatus = StepStatus.PENDING
    tasks: tuple[TaskState, ...] = ()
    """Set once, when the step becomes ready: a tuple, which the collector stops tracking."""
    inputs: dict[str, Any] | None = None
    """Rendered inputs, known once the step is ready."""
    input_error: str | None = None
    """Why the inputs could not be rendered, if they could not."""
    output: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    """Why the step failed; on a fan-out step that succeeded under `on_failure: continue`
    with failed items, an `ItemsFailed` error naming them."""
    done: int = 0
    """Tasks that succeeded."""
    failed_items: int = 0
    """Fan-out items that failed for good under `on_failure: continue` (their outputs are null)."""
    running: int = 0
    """Tasks running now (fan-out concurrency is checked against it)."""


class StepStates(dict[str, StepState]):
    """The states of a run's steps by id, each one made the first time it is looked up.

    A run of 10,000 steps can then start its first steps without building 10,000 states
    first (~10 ms). Reading the whole collection (iterating, `values()`, `==`, ...) makes
    the rest and sees every step in the plan's order; `len` and `in` never need to.

    A step in `ready_as_written` (a root that takes its inputs as written and does not fan
    out) is made ready, its one task queued, with a copy of those inputs: the run's ready
    queue holds such roots from the start, without a state each.
    """

    __slots__ = ("_ready", "_waiting", "_whole")

    def __init__(
        self,
        waiting: Mapping[str, int],
        ready_as_written: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`waiting`: each step id's number of dependencies, in the plan's order."""
        super().__init__()
        self._waiting = waiting
        self._ready = ready_as_written or {}
        self._whole = False

    def __missing__(self, step_id: str) -> StepState:
        made = self[step_id] = self._new(step_id)
        return made

    def _new(self, step_id: str) -> StepState:
        inputs = self._ready.get(step_id)
        if inputs is None:
            return StepState(step_id, waiting=self._waiting[step_id])  # KeyError: no such step
        task = TaskState(step_id, None, queued=True)
        return StepState(step_id, 0, StepStatus.READY, (task,), dict(inputs))

    def made(self) -> dict_values[str, StepState]:
        """The states made so far (a step never looked up is pending, untouched)."""
        return dict.values(self)

    def _make_all(self) -> None:
        if self._whole:
            return
        made = dict(dict.items(self))
        dict.clear(self)
        for step_id in self._waiting:
            dict.__setitem__(self, step_id, made.get(step_id) or self._new(step_id))
        self._whole = True

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._waiting

    def __iter__(self) -> Iterator[str]:
        self._make_all()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self._make_all()
        return dict.__reversed__(self)

    def __eq__(self, other: object) -> bool:
        self._make_all()
        if isinstance(other, StepStates):
            other._make_all()
        return dict.__eq__(self, other)

    __hash__ = None

    def __repr__(self) -> str:
        self._make_all()
        return dict.__repr__(self)

    def keys(self) -> dict_keys[str, StepState]:
        """Every step id, in the plan's order."""
        self._make_all()
        return dict.keys(self)

    def values(self) -> dict_values[str, StepState]:
        """Every step's state, in the plan's order."""
        self._make_all()
        return dict.values(self)

    def items(self) -> dict_items[str, StepState]:
        """Every (step id, state), in the plan's order."""
        self._make_all()
        return dict.items(self)

    def get(self, step_id: str, default: Any = None) -> Any:
        """The step's state (made if needed), or `default` for an id the plan lacks."""
        return self[step_id] if step_id in self._waiting else default

    def copy(self) -> dict[str, StepState]:
        """A plain dict of every step's state."""
        return dict(self.items())


@dataclass(slots=True)
class RunState:
    """Everything known about a run: the fold of its journal."""

    run_id: str
    workflow_id: str
    inputs: dict[str, Any]
    max_concurrency: int
    created_at: float
    steps: StepStates
    status: RunStatus = RunStatus.RUNNING
    running: int = 0
    finished_steps: int = 0
    outputs: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    failed_step: str | None = None
    """The step whose failure ended (or is ending) the run."""
    failing: bool = False
    """A step failed for good: start nothing new, fail once running attempts end."""
    started_at: float | None = None
    """When the first step started: the run's timeout counts from here."""
    finished_at: float | None = None
    reason: str = ""
    """Why the run was paused or cancelled, as the user gave it."""
    events: int = 0
    """Events folded so far (the next event's sequence number)."""
    step_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
