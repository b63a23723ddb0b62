"""The failure policy chooses retry, fallback, escalation or failure."""

from __future__ import annotations

from kflow.engine.failure import decide_failure
from kflow.engine.state import TaskState
from kflow.errors import ErrorKind
from tests.unit.engine.plans import plan_of


def test_a_validation_error_goes_straight_to_the_fallback() -> None:
    plan = plan_of("steps:\n  - {id: s, agent: a, action: x, retries: 3, fallback: y}\n")
    decision = decide_failure(
        plan.steps["s"], TaskState("s", None), ErrorKind.VALIDATION, None, 0.0, "r"
    )
    assert decision.decision == "fallback"


def test_jitter_is_the_same_for_the_same_run_step_and_attempt() -> None:
    plan = plan_of("steps:\n  - {id: s, action: noop, retries: 3}\n")
    one = decide_failure(plan.steps["s"], TaskState("s", None), ErrorKind.UNKNOWN, None, 0.0, "r")
    two = decide_failure(plan.steps["s"], TaskState("s", None), ErrorKind.UNKNOWN, None, 0.0, "r")
    assert one == two and one.retry_at is not None


def test_the_delay_grows_exponentially_up_to_the_cap() -> None:
    plan = plan_of(
        "steps:\n  - {id: s, action: noop, retry: {max_retries: 9, initial_delay: 1, max_delay: 5, jitter: 0}}\n"
    )
    policy = plan.steps["s"].retry
    assert [policy.delay(n, "k") for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
