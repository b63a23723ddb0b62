"""The language's models: durations, input declarations and shorthands."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kflow.spec.models import InputSpec, StepSpec, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("300s", 300.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25)],
)
def test_durations_are_read_as_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "1 hour", "", "m5", True])
def test_bad_durations_are_rejected_with_examples(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (10**400, "100000000000000000...0000000000000000000"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
        ("1e400", "'1e400'"),
        ("inf", "'inf'"),
        ("9" * 400 + "h", "'999999999999...999999999999h'"),
    ],
)
def test_durations_beyond_a_float_are_rejected(value: object, shown: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == f"{shown} is not a finite number of seconds"


def test_an_enum_input_needs_values() -> None:
    with pytest.raises(ValidationError, match="needs a non-empty `values` list"):
        InputSpec(name="depth", type="enum")


def test_a_default_must_be_one_of_the_values() -> None:
    with pytest.raises(ValidationError, match="not one of the allowed values: a, b"):
        InputSpec(name="depth", type="enum", values=["a", "b"], default="c")


def test_a_default_must_have_the_declared_type() -> None:
    with pytest.raises(ValidationError, match="expected an integer"):
        InputSpec(name="n", type="integer", default="three")


def test_a_step_accepts_the_task_forms_name_and_a_single_dependency() -> None:
    step = StepSpec.model_validate({"name": "notify", "depends_on": "fetch"})
    assert step.id == "notify"
    assert step.depends_on == ["fetch"]


def test_outputs_may_be_a_list_of_names() -> None:
    step = StepSpec.model_validate({"id": "a", "outputs": ["rows", "count"]})
    assert step.outputs == {"rows": "rows", "count": "count"}
