"""The corpus: every broken definition reports exactly its expected, located problems.

Each `tests/corpus/broken/NAME.yaml` has a `NAME.expected` beside it: one line per
problem (`NAME.yaml:line:col: message`), optionally followed by `hint: ...` lines.
Every line must appear in the error, and there must be no other problems.
"""

from __future__ import annotations

import pathlib

import pytest

from kflow.errors import SpecError
from kflow.plan import load_plan

CORPUS = pathlib.Path(__file__).parents[2] / "corpus"
BROKEN = sorted((CORPUS / "broken").glob("*.yaml"))
VALID = sorted((CORPUS / "valid").glob("*.yaml"))
EXAMPLES = sorted((pathlib.Path(__file__).parents[3] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_a_broken_definition_reports_its_expected_problems(path: pathlib.Path) -> None:
    expected = path.with_suffix(".expected").read_text().splitlines()
    with pytest.raises(SpecError) as caught:
        load_plan(path, filename=path.name)
    text = str(caught.value)
    for line in expected:
        assert line in text, f"{line!r} not in:\n{text}"
    located = [line for line in expected if line.startswith(f"{path.name}:")]
    assert len(located) == len(caught.value.problems), text
    assert all(problem.line >= 1 for problem in caught.value.problems)


def test_the_corpus_covers_every_kind_of_problem() -> None:
    names = {path.stem for path in BROKEN}
    assert names >= {
        "yaml-syntax-error",
        "unknown-key",
        "missing-required-field",
        "duplicate-step-id",
        "unknown-step-reference",
        "unknown-output-reference",
        "unknown-input-reference",
        "cycle",
        "wrong-type",
        "enum-default-out-of-range",
        "bad-duration",
        "escalate-without-agent",
        "unknown-error-handling-step",
        "several-problems",
    }


@pytest.mark.parametrize("path", VALID + EXAMPLES, ids=[p.stem for p in VALID + EXAMPLES])
def test_a_valid_definition_loads_and_compiles(path: pathlib.Path) -> None:
    plan = load_plan(path)
    assert set(plan.order) == set(plan.steps)
