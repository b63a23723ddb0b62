"""Property: any text ends in a Plan or in a SpecError whose every problem is located."""

from __future__ import annotations

import pathlib
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kflow.errors import SpecError
from kflow.plan import Plan, load_plan

EXAMPLES = [
    p.read_text() for p in sorted((pathlib.Path(__file__).parents[3] / "examples").glob("*.yaml"))
]

# Words of the language, so generated mappings reach past the first unknown key.
KEYS = [
    "workflow", "id", "name", "version", "steps", "tasks", "inputs", "outputs", "agent",
    "action", "depends_on", "parallel", "over", "max_concurrency", "timeout", "retries",
    "retry", "max_retries", "on_failure", "fallback", "escalation_agent", "error_handling",
    "step", "engine", "type", "values", "default", "required", "from", "<<",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "a",
            "b",
            "echo",
            "noop",
            "pkg:f",
            "enum",
            "retry",
            "escalate",
            "5m",
            "x y",
            "$inputs.a",
            "$steps.a.b",
            "$steps.b",
            "$steps",
            "see $inputs.a",
            "parallel",
        ]
    ),  # fmt: skip
    st.text(max_size=8),
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner, max_size=5),
    ),
    max_leaves=30,
)


def check(text: str) -> None:
    try:
        result = load_plan(text + "\n", "prop.yaml")
    except SpecError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line >= 1, problem
            assert problem.column >= 1, problem
            assert problem.file == "prop.yaml"
    else:
        assert isinstance(result, Plan)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=())))  # surrogates and control characters too
def test_any_text_loads_or_fails_with_located_problems(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_any_yaml_structure_loads_or_fails_with_located_problems(value: Any) -> None:
    check(yaml.safe_dump(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), st.booleans())
def test_workflow_shaped_mappings_load_or_fail_with_located_problems(
    body: dict[str, Any], wrapped: bool
) -> None:
    check(yaml.safe_dump({"workflow": body} if wrapped else body))


EDITS = st.lists(
    st.tuples(st.sampled_from(["delete", "duplicate", "swap", "insert"]), st.integers(0, 10_000),
              st.integers(0, 10_000), st.sampled_from([" ", ":", "-", "[", "'", "$", "x", "\t"])),
    max_size=4,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLES), EDITS)
def test_edited_examples_load_or_fail_with_located_problems(
    text: str, edits: list[tuple[str, int, int, str]]
) -> None:
    lines = text.splitlines()
    for kind, first, second, char in edits:
        i, j = first % len(lines), second % len(lines)
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        else:
            column = second % (len(lines[i]) + 1)
            lines[i] = lines[i][:column] + char + lines[i][column:]
    check("\n".join(lines))


NAMES = st.sampled_from(["a", "b", "c", "d", "kA", "bad id", ""])
REFERENCES = st.builds(
    lambda root, first, second: f"${root}.{first}.{second}",
    st.sampled_from(["inputs", "steps", "stepz"]),
    NAMES,
    st.sampled_from(["out", "x", "0"]),
)
STEP_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": NAMES,
    "agent": st.one_of(NAMES, st.none()),
    "action": st.sampled_from(["echo", "noop", "pkg:f", "go", "bad:", None]),
    "inputs": st.dictionaries(NAMES, st.one_of(REFERENCES, SCALARS, st.lists(REFERENCES))),
    "outputs": st.one_of(st.lists(NAMES, max_size=2), st.dictionaries(NAMES, NAMES)),
    "depends_on": st.one_of(NAMES, st.lists(NAMES, max_size=3)),
    "parallel": st.one_of(st.booleans(), st.fixed_dictionaries({"over": NAMES})),
    "timeout": st.sampled_from([1, "5m", "soon", 0, None]),
    "retries": st.sampled_from([0, 2, -1, "x"]),
    "on_failure": st.sampled_from(["retry", "escalate", "fail", "continue", "nope"]),
    "fallback": st.sampled_from(["noop", "pkg:f", "by_hand", ""]),
    "escalation_agent": NAMES,
}
STEP = st.fixed_dictionaries(
    {"id": NAMES}, optional={k: v for k, v in STEP_FIELDS.items() if k != "id"}
)
STEPS = st.lists(STEP, min_size=1, max_size=5)
INPUT = st.fixed_dictionaries(
    {"name": NAMES},
    optional={
        "type": st.sampled_from(["string", "integer", "enum", "any"]),
        "values": st.lists(NAMES, max_size=2),
        "default": SCALARS,
    },
)
OUTPUT = st.fixed_dictionaries({"name": NAMES}, optional={"from": REFERENCES})
HANDLING = st.fixed_dictionaries(
    {"step": NAMES},
    optional={
        "on_failure": st.sampled_from(["retry", "escalate"]),
        "fallback": NAMES,
        "escalation_agent": NAMES,
    },
)
ENGINE = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["parallel", "sequential", "x"]),
        "max_concurrent_tasks": st.integers(0, 3),
        "retry_attempts": st.integers(-1, 3),
    },
)
SPECS = st.fixed_dictionaries(
    {"steps": STEPS},
    optional={
        "inputs": st.lists(INPUT, max_size=3),
        "outputs": st.lists(OUTPUT, max_size=2),
        "error_handling": st.lists(HANDLING, max_size=2),
        "engine": ENGINE,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPECS, st.booleans())
def test_generated_workflows_compile_or_fail_with_located_problems(
    spec: dict[str, Any], wrapped: bool
) -> None:
    check(yaml.safe_dump({"workflow": spec} if wrapped else spec, sort_keys=False))
