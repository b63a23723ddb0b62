"""Loading definitions: both seed forms, located problems, all reported at once."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from kflow.errors import Problem, SpecError
from kflow.spec import default_id, load_spec, load_spec_file, read_spec
from kflow.spec.loader import LoadedSpec

EXAMPLES = pathlib.Path(__file__).parents[3] / "examples"


def problems_of(text: str, filename: str = "wf.yaml") -> tuple[Problem, ...]:
    with pytest.raises(SpecError) as caught:
        load_spec(textwrap.dedent(text), filename)
    return caught.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_the_research_seed_loads_under_its_workflow_key() -> None:
    loaded = load_spec_file(EXAMPLES / "research-and-summarize.yaml")
    assert loaded.spec.id == "research-and-summarize"
    assert loaded.spec.version == "1.0"
    assert [s.id for s in loaded.spec.steps] == [
        "planning",
        "information_gathering",
        "synthesis",
        "quality_check",
    ]
    assert loaded.spec.inputs[1].default == "moderate"


def test_locations_point_into_the_file_through_the_workflow_key() -> None:
    loaded = load_spec_file(EXAMPLES / "research-and-summarize.yaml")
    assert loaded.source.locate(("steps", 1, "inputs", "plan")) == (36, 15)
    assert loaded.source.locate(("steps", 1, "inputs", "plan"), key=True) == (36, 9)
    assert loaded.source.locate(("steps", 1, "inputs", "plan", "deeper")) == (36, 15)
    assert loaded.source.locate(("id",)) == (3, 7)


def test_the_task_form_is_read_as_steps() -> None:
    loaded = load_spec_file(EXAMPLES / "data-pipeline.yaml")
    spec = loaded.spec
    assert spec.id == "data-pipeline"
    assert spec.engine.max_concurrency == 10
    assert spec.engine.timeout == 3600.0
    assert [s.id for s in spec.steps] == ["data_processing", "notification"]
    assert spec.steps[0].timeout == 300.0
    assert spec.steps[0].retries == 2
    assert spec.steps[1].depends_on == ["data_processing"]
    assert loaded.source.display(("steps", 1, "id")) == "tasks[1].name"


def test_task_form_problems_are_located_at_the_users_keys() -> None:
    problem = only_problem(
        """\
        tasks:
          - name: a
            timeout: soon
        """
    )
    assert (problem.line, problem.column) == (3, 14)
    assert problem.message.startswith("tasks[0].timeout: 'soon' is not a duration")


def test_a_missing_id_defaults_to_the_sanitised_file_stem() -> None:
    assert load_spec("steps: [{id: a}]", "jobs/etl jobs.yaml").spec.id == "etl-jobs"
    assert load_spec("steps: [{id: a}]").spec.id == "workflow"
    assert load_spec("id: mine\nsteps: [{id: a}]", "x.yaml").spec.id == "mine"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("<stdin>", "workflow"),
        ("2024 report.yml", "workflow-2024-report"),
        ("!!!.yaml", "workflow"),
    ],
)
def test_default_ids_are_valid_names(filename: str, expected: str) -> None:
    assert default_id(filename) == expected


def test_a_yaml_syntax_error_is_located_at_its_mark() -> None:
    problem = only_problem("steps:\n  - id: a\n   action: echo\n")
    assert problem.message.startswith("YAML syntax error:")
    assert (problem.file, problem.line, problem.column) == ("wf.yaml", 3, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "must be a mapping, not a list"),
        ("hello\n", "must be a mapping, not the value 'hello'"),
        ("# only a comment\n", "the file is empty"),
        ("workflow: [a]\n", "`workflow:` must hold a mapping, not a list"),
        ("steps: [{id: a}]\n---\nsteps: []\n", "more than one YAML document"),
    ],
)
def test_a_document_that_is_not_a_workflow_mapping_is_rejected(text: str, message: str) -> None:
    assert message in only_problem(text).message


def test_an_unknown_key_suggests_the_closest_and_lists_valid_keys() -> None:
    problem = only_problem("steps:\n  - id: a\n    acton: echo\n")
    assert problem.message == "steps[0]: unknown key 'acton'"
    assert (problem.line, problem.column) == (3, 5)
    assert problem.hint is not None
    assert problem.hint.startswith("did you mean 'action'? valid keys: id, name, agent, action")


def test_a_missing_required_key_is_located_at_its_mapping() -> None:
    problem = only_problem("steps:\n  - id: a\n  - action: echo\n")
    assert problem.message == "steps[1]: missing required key 'id'"
    assert (problem.line, problem.column) == (3, 5)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("steps: [{id: a, retries: many}]", "steps[0].retries: expected an integer, got 'many'"),
        ("steps: [{id: a, retries: -1}]", "steps[0].retries: expected a number >= 0, got -1"),
        ("steps: [{id: a, parallel: 3}]", "expected true or false or a mapping, got 3"),
        ("steps: [{id: a, on_failure: x}]", "expected 'retry', 'escalate', 'fail' or 'continue'"),
        ("steps: [{id: 'a b'}]", "steps[0].id: expected a name of letters"),
        ("steps: {a: 1}", "steps: expected a list, got a mapping"),
        ("steps: []", "steps: must not be empty"),
        (
            "steps: [{id: a, outputs: {x: [1]}}]",
            "steps[0].outputs.x: expected a string, got a list",
        ),
        (
            "engine: {type: fast}\nsteps: [{id: a}]",
            "engine.type: expected 'parallel' or 'sequential'",
        ),
    ],
)
def test_wrong_types_say_where_what_was_given_and_what_is_expected(
    yaml_text: str, message: str
) -> None:
    assert message in only_problem(yaml_text).message


def test_a_misspelled_choice_gets_a_suggestion() -> None:
    assert only_problem("steps: [{id: a, on_failure: retyr}]").hint == "did you mean 'retry'?"


def test_a_duplicate_step_id_points_at_the_second_and_names_the_first() -> None:
    problem = only_problem("steps:\n  - id: a\n  - id: b\n  - id: a\n")
    assert problem.message == "duplicate step id 'a'; the first is at line 2"
    assert (problem.line, problem.column) == (4, 9)


def test_duplicate_input_and_output_names_are_problems() -> None:
    messages = [
        p.message
        for p in problems_of(
            """\
            inputs: [{name: x}, {name: x}]
            outputs: [{name: y, from: $steps.a.y}, {name: y, from: $steps.a.y}]
            steps: [{id: a}]
            """
        )
    ]
    assert messages == [
        "duplicate input name 'x'; the first is at line 1",
        "duplicate output name 'y'; the first is at line 2",
    ]


def test_a_duplicate_yaml_key_is_a_problem_not_a_silent_overwrite() -> None:
    problem = only_problem("steps:\n  - id: a\n    timeout: 1\n    timeout: 2\n")
    assert problem.message == "duplicate key 'timeout'; the first is at line 3"
    assert (problem.line, problem.column) == (4, 5)


def test_two_spellings_of_one_key_are_a_duplicate() -> None:
    problem = only_problem("steps:\n  - name: a\n    id: b\n")
    assert problem.message == "'id' repeats 'name' (they are the same key); the first is at line 2"


def test_enum_values_and_defaults_are_checked() -> None:
    messages = [
        p.message
        for p in problems_of(
            """\
            inputs:
              - {name: depth, type: enum, values: [a, b], default: c}
              - {name: mode, type: enum}
              - {name: n, type: integer, default: "3"}
            steps: [{id: a}]
            """
        )
    ]
    assert messages == [
        "inputs[0].default: 'c' is not one of the allowed values: a, b",
        "inputs[1].values: an input of type enum needs a non-empty `values` list",
        "inputs[2].default: expected an integer, got '3'",
    ]


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    problems = problems_of(
        """\
        id: bad id
        engine: {timeout: forever}
        steps:
          - id: a
            retries: x
            colour: red
          - id: a
        """
    )
    assert [p.line for p in problems] == [1, 2, 5, 6, 7]
    assert {p.file for p in problems} == {"wf.yaml"}


def test_keys_stay_text_and_values_follow_yaml() -> None:
    spec = load_spec("steps:\n  - id: a\n    inputs: {on: yes, when: 2024-01-02, n: 0x10}\n").spec
    assert spec.steps[0].inputs == {"on": True, "when": "2024-01-02", "n": 16}


def test_anchors_aliases_and_merge_keys_work() -> None:
    spec = load_spec(
        """\
        steps:
          - &base {id: a, action: sleep, inputs: {seconds: 1}}
          - <<: *base
            id: b
        """
    ).spec
    assert spec.steps[1].id == "b"
    assert spec.steps[1].action == "sleep"
    assert spec.steps[1].inputs == {"seconds": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps: [*nowhere]", "alias *nowhere has no anchor &nowhere before it"),
        ("steps: &a [*a]", "alias *a refers to the value that contains it"),
        ("steps: [{id: a, inputs: {x: !!binary aGk=}}]", "unsupported YAML tag"),
        ("steps: [{id: a, inputs: {x: !custom 1}}]", "unsupported YAML tag '!custom'"),
        ("steps: [{id: a, retries: !!int many}]", "'many' is not a valid integer"),
        ("? [a]\n: 1\nsteps: [{id: a}]", "a mapping key must be a name, not a list"),
        ("steps: [{id: a, inputs: {x: " + "[" * 80 + "]" * 80 + "}}]", "nested more than 64"),
    ],
)
def test_unsupported_yaml_is_reported_once(text: str, message: str) -> None:
    assert message in only_problem(text).message


def test_an_alias_bomb_is_an_error_not_a_hang() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    problem = problems_of("\n".join(lines))[-1]
    assert "expands to more than" in problem.message


def test_a_file_that_cannot_be_read_is_a_problem(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SpecError, match="cannot read the file"):
        load_spec_file(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec_file(binary)


def test_an_invalid_definition_still_yields_its_valid_part() -> None:
    reading = read_spec(
        textwrap.dedent(
            """\
            steps:
              - id: a
                timeout: soon
              - id: 'b c'
              - id: d
                depends_on: [a]
            """
        ),
        "wf.yaml",
    )
    assert reading.loaded is None
    assert len(reading.problems) == 2
    partial = reading.partial
    assert isinstance(partial, LoadedSpec)
    assert [s.id for s in partial.spec.steps] == ["a", "d"]
    assert partial.spec.steps[0].timeout is None
    assert partial.omitted is not None
    assert partial.omitted.steps == frozenset({"b c"})
    assert partial.omitted.source_index("steps", 1) == 2


def test_a_valid_definition_reads_without_problems() -> None:
    reading = read_spec("steps: [{id: a}]")
    assert reading.problems == ()
    assert reading.partial is None
    assert reading.loaded is not None


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("steps: \ud800\n", (1, 8), "the text holds an invalid character"),
        ("steps:\n  - id: éé\x07\n", (2, 11), "a character YAML does not allow"),
    ],
)
def test_characters_yaml_cannot_hold_are_located(
    text: str, where: tuple[int, int], message: str
) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.column) == where
    assert message in problem.message
