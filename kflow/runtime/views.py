"""Read-only views of a run for people and programs (CLI, API, Python callers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kflow.engine.machine import RunMachine
from kflow.engine.state import StepState, TaskState


@dataclass(frozen=True, slots=True)
class StepView:
    """One step's state: status, attempts, timing and last error."""

    id: str
    status: str
    action: str
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration: float | None
    error: str | None
    error_kind: str | None
    items: int | None
    """How many items a fan-out step has (None for an ordinary step)."""
    items_done: int | None
    variant: str | None
    """`fallback` or `escalation` when the step's result came from one."""
    details: str | None = None
    """More about the error: a Python traceback, or the end of a command's stderr."""


@dataclass(frozen=True, slots=True)
class RunView:
    """A run's state, folded from its journal."""

    run_id: str
    workflow_id: str
    status: str
    created_at: float
    finished_at: float | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None
    error_kind: str | None
    failed_step: str | None
    reason: str
    steps: list[StepView] = field(default_factory=list)
    live: bool | None = None
    """Whether a worker is executing the run now (None when not checked)."""

    def to_json(self) -> dict[str, Any]:
        """The view as JSON-ready data."""
        return asdict(self)

    def counts(self) -> dict[str, int]:
        """Number of steps in each status."""
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.status] = counts.get(step.status, 0) + 1
        return counts


def run_view(machine: RunMachine, live: bool | None = None) -> RunView:
    """The view of the run a machine has folded."""
    state = machine.state
    steps = [
        _step_view(machine, state.steps[step_id], str(machine.plan.steps[step_id].action))
        for step_id in machine.plan.order
    ]
    return RunView(
        run_id=state.run_id,
        workflow_id=state.workflow_id,
        status=state.status.value,
        created_at=state.created_at,
        finished_at=state.finished_at,
        inputs=state.inputs,
        outputs=state.outputs,
        error=state.error.message if state.error else None,
        error_kind=state.error.kind if state.error else None,
        failed_step=state.failed_step,
        reason=state.reason,
        steps=steps,
        live=live,
    )


def _step_view(machine: RunMachine, step: StepState, action: str) -> StepView:
    tasks = step.tasks
    starts = [t.first_started_at for t in tasks if t.first_started_at is not None]
    ends = [t.finished_at for t in tasks if t.finished_at is not None]
    started = min(starts) if starts else None
    finished = max(ends) if ends and step.status.finished else None
    last = _last_error(tasks)
    error = step.error or last
    details = (error.details if error else None) or (last.details if last else None)
    fan_out = machine.plan.steps[step.id].fan_out is not None
    variants = {t.variant for t in tasks if t.variant != "primary"}
    return StepView(
        id=step.id,
        status=step.status.value,
        action=action,
        attempts=sum(t.attempt for t in tasks),
        started_at=started,
        finished_at=finished,
        duration=finished - started if started is not None and finished is not None else None,
        error=error.message if error else None,
        error_kind=error.kind if error else None,
        items=len(tasks) if fan_out and tasks else None,
        items_done=step.done if fan_out and tasks else None,
        variant=", ".join(sorted(variants)) or None,
        details=details,
    )


def _last_error(tasks: Sequence[TaskState]) -> Any:
    errors = [t.error for t in tasks if t.error is not None]
    return errors[-1] if errors else None
