"""The language's models: durations, input declarations and shorthands."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kflow.spec.models import InputSpec, StepSpec


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
