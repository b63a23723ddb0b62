"""The failure policy: given a failed attempt, decide what happens next (a pure function)."""

from __future__ import annotations

from dataclasses import dataclass

from kflow.engine.events import FailureDecision
from kflow.engine.state import TaskState
from kflow.errors import ErrorKind
from kflow.plan import PlanStep


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failure: `retry` at `retry_at`, or move on down the chain."""

    decision: FailureDecision
    retry_at: float | None = None


def decide_failure(
    step: PlanStep,
    task: TaskState,
    kind: ErrorKind,
    retry_after: float | None,
    now: float,
    run_id: str,
) -> Decision:
    """Retry while the budget lasts and the error is retryable; then fallback, escalate, give up.

    The chain is: primary (with retries) -> `fallback` action -> escalation
    agent -> `fail` (or `continue`, which fails only this step).
    """
    if task.variant == "primary":
        failures = task.failures + 1
        if kind.retryable and failures <= step.retry.max_retries:
            key = f"{run_id}:{step.id}:{task.index}"
            delay = retry_after if retry_after is not None else step.retry.delay(failures, key)
            return Decision("retry", now + delay)
        if step.fallback is not None:
            return Decision("fallback")
    if task.variant != "escalation" and step.escalation is not None:
        return Decision("escalate")
    return Decision("continue" if step.on_failure == "continue" else "fail")
