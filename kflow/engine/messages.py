"""Errors the engine words itself: a result without its declared outputs, and the summary
of a fan-out step whose items failed under `on_failure: continue`."""

from __future__ import annotations

from typing import Any

from kflow.engine import events as ev
from kflow.engine.state import StepState, StepStatus
from kflow.errors import ErrorKind
from kflow.plan import PlanStep

_LISTED_ITEM_ERRORS = 5
"""How many failed items the summary of a partly failed fan-out step lists."""


def items_failed(step: StepState) -> ev.ErrorInfo:
    """One error naming the failed items of a fan-out step that finished under `continue`."""
    failed = [t for t in step.tasks if t.status is StepStatus.FAILED]
    listed = " | ".join(
        f"[{t.index}] {t.error.message if t.error else 'failed'}"
        for t in failed[:_LISTED_ITEM_ERRORS]
    )
    if len(failed) > _LISTED_ITEM_ERRORS:
        listed += f" | ... and {len(failed) - _LISTED_ITEM_ERRORS} more"
    first = failed[0].error
    return ev.ErrorInfo(
        kind=first.kind if first else ErrorKind.UNKNOWN,
        message=(
            f"{len(failed)} of {len(step.tasks)} items failed (on_failure: continue, "
            f"so their outputs are null): {listed}"
        ),
        type="ItemsFailed",
    )


def bad_result(plan_step: PlanStep, result: Any, missing: list[str] | None = None) -> ev.ErrorInfo:
    """The error of a step whose action returned no dict, or one without the `missing` keys
    its declared outputs are read from."""
    declared = ", ".join(f"{n} (from '{k}')" for n, k in plan_step.outputs.items())
    if missing is None:
        message = (
            f"step '{plan_step.id}' declares outputs {declared} but its action returned "
            f"{type(result).__name__}, not a dict; return a dict with those keys"
        )
    else:
        message = (
            f"step '{plan_step.id}': the action's result has no key {', '.join(map(repr, missing))}"
            f" (it has {', '.join(map(repr, result)) or 'no keys'}); declared outputs: {declared}"
        )
    return ev.ErrorInfo(kind=ErrorKind.VALIDATION, message=message, type="OutputError")
