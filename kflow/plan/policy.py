"""Merging a step's failure settings with its `error_handling` entry and the engine defaults.

Precedence, highest first: the step's `error_handling` entry, the step's own keys
(`retries`, `retry`, `on_failure`, `fallback`, `escalation_agent`), then the engine.
`on_failure` defaults to `fail` (retries still apply when there are any); an
`error_handling` entry that does not say otherwise means `retry`. The number of retries
defaults to `engine.retry_attempts`, or to 3 under `on_failure: retry` when that is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from kflow.plan import targets
from kflow.plan.model import ActionRef, RetryPolicy
from kflow.plan.reporter import Reporter
from kflow.spec.models import EngineSpec, ErrorHandlingSpec, OnFailure, StepSpec
from kflow.spec.source import Path

DEFAULT_RETRIES = 3
"""Retries of `on_failure: retry` when neither the step nor the engine gives a number."""


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """Everything the engine needs to decide what a failure of one step leads to."""

    retry: RetryPolicy
    on_failure: OnFailure
    fallback: ActionRef | None
    escalation: ActionRef | None


def failure_policy(
    step: StepSpec,
    step_path: Path,
    entry: tuple[ErrorHandlingSpec, Path] | None,
    engine: EngineSpec,
    report: Reporter,
) -> FailurePolicy:
    """The step's merged failure policy; problems are reported where the user wrote them."""
    handling, handling_path = entry if entry is not None else (None, step_path)
    on_failure, on_failure_path = _on_failure(step, step_path, handling, handling_path)
    retry = _retry(step, step_path, handling, engine=engine, on_failure=on_failure, report=report)
    fallback = None
    if handling is not None and handling.fallback is not None:
        fallback = targets.fallback_action(
            step, handling.fallback, (*handling_path, "fallback"), report
        )
    elif step.fallback is not None:
        fallback = targets.fallback_action(step, step.fallback, (*step_path, "fallback"), report)
    agent = (handling.escalation_agent if handling else None) or step.escalation_agent
    if on_failure == "escalate" and agent is None:
        report.add(
            on_failure_path,
            f"step {step.id!r} escalates on failure but names no escalation_agent",
            "add `escalation_agent: <agent>` next to `on_failure: escalate`",
        )
    escalation = ActionRef("agent", agent, "escalate") if agent is not None else None
    return FailurePolicy(retry, on_failure, fallback, escalation)


def _on_failure(
    step: StepSpec, step_path: Path, handling: ErrorHandlingSpec | None, handling_path: Path
) -> tuple[OnFailure, Path]:
    if handling is not None and "on_failure" in handling.model_fields_set:
        return handling.on_failure, (*handling_path, "on_failure")
    if step.on_failure is not None:
        return step.on_failure, (*step_path, "on_failure")
    if handling is not None:
        return handling.on_failure, handling_path
    return "fail", step_path


def _retry(
    step: StepSpec,
    step_path: Path,
    handling: ErrorHandlingSpec | None,
    *,
    engine: EngineSpec,
    on_failure: OnFailure,
    report: Reporter,
) -> RetryPolicy:
    spec = step.retry
    if spec is not None and step.retries is not None and "max_retries" in spec.model_fields_set:
        report.add(
            (*step_path, "retries"),
            f"step {step.id!r} sets both `retries` and `retry.max_retries`",
            "keep one of them",
        )
    count = next(
        (
            n
            for n in (
                handling.max_retries if handling else None,
                step.retries,
                spec.max_retries if spec else None,
            )
            if n is not None
        ),
        engine.retry_attempts or (DEFAULT_RETRIES if on_failure == "retry" else 0),
    )
    base = spec or RetryPolicy()
    return RetryPolicy(
        max_retries=count,
        backoff=(handling.backoff if handling else None)
        or (spec.backoff if spec else engine.backoff_strategy),
        initial_delay=_first(handling.initial_delay if handling else None, base.initial_delay),
        max_delay=_first(handling.max_delay if handling else None, base.max_delay),
        multiplier=base.multiplier,
        jitter=base.jitter,
    )


def _first(value: float | None, otherwise: float) -> float:
    return otherwise if value is None else value
