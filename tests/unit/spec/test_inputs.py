"""Binding run inputs: defaults, CLI text, types, enums, unknown and missing names."""

from __future__ import annotations

from typing import Any

import pytest

from kflow.errors import InputError
from kflow.spec import InputSpec, bind_inputs, parse_cli_inputs

DECLARED = [
    InputSpec(name="topic", type="string", required=True),
    InputSpec(
        name="depth", type="enum", values=["shallow", "moderate", "deep"], default="moderate"
    ),
    InputSpec(name="n", type="integer", default=3),
    InputSpec(name="ratio", type="number"),
    InputSpec(name="dry_run", type="boolean", default=False),
    InputSpec(name="tags", type="array", default=[]),
    InputSpec(name="options", type="object"),
    InputSpec(name="level", type="enum", values=[1, 2, 3]),
]


def problems(given: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(InputError) as caught:
        bind_inputs(DECLARED, given)
    return caught.value.problems


def test_defaults_fill_what_is_not_given() -> None:
    bound = bind_inputs(DECLARED, {"topic": "owls"})
    assert bound == {
        "topic": "owls",
        "depth": "moderate",
        "n": 3,
        "ratio": None,
        "dry_run": False,
        "tags": [],
        "options": None,
        "level": None,
    }


def test_a_list_default_is_copied_for_each_run() -> None:
    first = bind_inputs(DECLARED, {"topic": "a"})
    first["tags"].append("changed")
    assert bind_inputs(DECLARED, {"topic": "b"})["tags"] == []


def test_cli_text_is_read_as_the_declared_type() -> None:
    bound = bind_inputs(
        DECLARED,
        {
            "topic": "owls",
            "depth": "deep",
            "n": "7",
            "ratio": "0.5",
            "dry_run": "true",
            "tags": '["a", "b"]',
            "options": '{"k": 1}',
            "level": "2",
        },
    )
    assert bound["n"] == 7
    assert bound["ratio"] == 0.5
    assert bound["dry_run"] is True
    assert bound["tags"] == ["a", "b"]
    assert bound["options"] == {"k": 1}
    assert bound["level"] == 2


def test_typed_python_values_pass_unchanged() -> None:
    bound = bind_inputs(DECLARED, {"topic": "x", "n": 4, "ratio": 2, "dry_run": True})
    assert (bound["n"], bound["ratio"], bound["dry_run"]) == (4, 2, True)


def test_every_problem_is_listed_at_once() -> None:
    assert problems({"depth": "deepest", "n": "three", "dry_run": "maybe", "colour": "red"}) == (
        "unknown input 'colour'; declared inputs: topic, depth, n, ratio, dry_run, tags, "
        "options, level",
        "missing required input 'topic' (string); pass it with -i topic=...",
        "input 'depth': 'deepest' is not one of the allowed values: shallow, moderate, deep",
        "input 'n': expected an integer, got 'three'",
        "input 'dry_run': expected true or false, got 'maybe'",
    )


def test_an_unknown_input_gets_a_suggestion() -> None:
    (problem,) = problems({"topic": "x", "dpth": "deep"})
    assert problem.startswith("unknown input 'dpth' (did you mean 'depth'?)")


def test_a_workflow_without_inputs_says_so() -> None:
    with pytest.raises(InputError, match="this workflow declares no inputs"):
        bind_inputs([], {"x": "1"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ratio", "nan", "expected a number"),
        ("tags", "[1,", "expected a list"),
        ("options", "[1]", "expected a mapping"),
        ("n", True, "expected an integer, got True"),
        ("topic", 3, "expected a string, got 3"),
        ("level", "4", "'4' is not one of the allowed values: 1, 2, 3"),
    ],
)
def test_values_of_the_wrong_type_are_rejected(name: str, value: Any, message: str) -> None:
    given = {"topic": "x", name: value}
    assert any(message in p for p in problems(given))


def test_cli_pairs_split_on_the_first_equals_sign() -> None:
    assert parse_cli_inputs(["topic=a=b", "depth=deep", "empty="]) == {
        "topic": "a=b",
        "depth": "deep",
        "empty": "",
    }


def test_bad_cli_pairs_are_all_reported() -> None:
    with pytest.raises(InputError) as caught:
        parse_cli_inputs(["topic", "=x", "a=1", "a=2"])
    assert caught.value.problems == (
        "'topic' has no '='; write -i name=value",
        "'=x' has no name before '='; write -i name=value",
        "input 'a' is given twice; give it once",
    )
