"""`kflow validate FILE...`: every problem with file:line:col, exit 2, nothing run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.acceptance.conftest import REPO, Kflow

pytestmark = pytest.mark.timeout(30)

BROKEN = REPO / "tests" / "corpus" / "broken"
WIDE = {"COLUMNS": "1000"}
"""Keeps rich from wrapping lines at 80 columns (the tests at the end check piped output)."""


def test_valid_workflows_are_reported_ok_and_validate_exits_0(
    kflow: Kflow, corpus: Path, examples: Path
) -> None:
    example = examples / "research-and-summarize.yaml"
    result = kflow("validate", corpus / "hello.yaml", example, env=WIDE)
    assert result.code == 0, result
    assert f"{corpus / 'hello.yaml'}: ok" in result.stdout
    assert f"{example}: ok" in result.stdout


def test_every_problem_is_listed_with_file_line_and_column_and_the_exit_code_is_2(
    kflow: Kflow, corpus: Path
) -> None:
    file = corpus / "invalid.yaml"
    result = kflow("validate", file, env=WIDE)
    assert result.code == 2, result
    assert f"{file}:4:25: inputs[0].type:" in result.stdout
    assert "got 'strng'" in result.stdout
    assert "hint: did you mean 'string'?" in result.stdout
    assert f"{file}:8:14: steps[0].timeout: 'soon' is not a duration" in result.stdout
    assert f"{file}:12:20: step 'report': unknown step 'ghost' in $steps.ghost.data" in (
        result.stdout
    )
    assert "3 problems found; nothing was run" in result.stderr


def test_malformed_yaml_is_reported_at_its_line_and_column(kflow: Kflow, corpus: Path) -> None:
    file = corpus / "malformed.yaml"
    result = kflow("validate", file, env=WIDE)
    assert result.code == 2, result
    assert f"{file}:5:12: YAML syntax error" in result.stdout
    assert "hint: check the indentation and quoting" in result.stdout


def test_validate_runs_no_step_and_opens_no_database(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    result = kflow("validate", corpus / "touch.yaml")
    assert result.code == 0, result
    assert not (tmp_path / "validate-ran-me").exists()
    assert not kflow.db.exists()
    ran = kflow("run", corpus / "touch.yaml")  # the same file does touch it when run
    assert ran.code == 0, ran
    assert (tmp_path / "validate-ran-me").exists()


def test_validate_checks_several_files_and_reports_each(kflow: Kflow, corpus: Path) -> None:
    files = (corpus / "invalid.yaml", corpus / "hello.yaml", corpus / "cycle")
    result = kflow("validate", *files, env=WIDE)
    assert result.code == 2, result
    assert f"{corpus / 'hello.yaml'}: ok" in result.stdout
    assert f"{corpus / 'invalid.yaml'}:4:25:" in result.stdout
    assert f"{corpus / 'cycle'}: cannot read the file" in result.stdout
    assert "4 problems found" in result.stderr


def test_actions_and_agents_that_cannot_be_found_are_problems(kflow: Kflow, corpus: Path) -> None:
    file = corpus / "unknown-action.yaml"
    result = kflow("validate", file, env=WIDE)
    assert result.code == 2, result
    assert f"{file}:4:25: step 'ghost': module 'steps' has no attribute 'no_such_function'" in (
        result.stdout
    )
    assert f"{file}:5:27: step 'stranger': unknown agent 'kNobody'" in result.stdout


def test_validate_json_gives_each_problem_as_data(kflow: Kflow, corpus: Path) -> None:
    file = corpus / "invalid.yaml"
    result = kflow("validate", "--json", file, corpus / "hello.yaml")
    assert result.code == 2, result
    report = result.json()
    assert [entry["file"] for entry in report] == [str(file), str(corpus / "hello.yaml")]
    problems = report[0]["problems"]
    assert [(p["line"], p["column"]) for p in problems] == [(4, 25), (8, 14), (12, 20)]
    assert problems[0]["hint"] == "did you mean 'string'?"
    assert all(p["file"] == str(file) and p["message"] for p in problems)
    assert report[1]["problems"] == []


def test_validate_reports_every_problem_of_the_broken_corpus_where_expected(
    kflow: Kflow, tmp_path: Path
) -> None:
    broken = Path(shutil.copytree(BROKEN, tmp_path / "broken"))
    cases = sorted(p for p in broken.glob("*.expected") if p.with_suffix(".yaml").exists())
    assert cases, "tests/corpus/broken has no cases"
    files = [case.with_suffix(".yaml").name for case in cases]
    result = kflow("validate", *files, cwd=broken, env=WIDE)
    assert result.code == 2, result
    printed = [line.strip() for line in result.stdout.splitlines()]
    for case in cases:
        for line in case.read_text().splitlines():
            if line.strip():  # the CLI may add to a message (a suggestion), not change it
                found = any(p.startswith(line.strip()) for p in printed)
                assert found, f"{case.name}: missing {line!r}\n{result}"


def test_each_problem_is_printed_on_one_line_when_stdout_is_piped(
    kflow: Kflow, corpus: Path
) -> None:
    file = corpus / "invalid.yaml"
    result = kflow("validate", file)
    assert result.code == 2, result
    lines = result.stdout.splitlines()
    assert (
        f"{file}:4:25: inputs[0].type: expected 'string', 'integer', 'number', 'boolean', "
        "'enum', 'array', 'object', 'document' or 'any', got 'strng'" in lines
    ), result
    assert f"{file}:12:20: step 'report': unknown step 'ghost' in $steps.ghost.data" in lines


def test_validate_names_a_valid_file_whose_path_holds_square_brackets_verbatim(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "[wip]").mkdir()
    (tmp_path / "x[" / "y]").mkdir(parents=True)
    for folder in ("[wip]", "x[/y]"):
        shutil.copy(corpus / "diamond.yaml", tmp_path / folder / "diamond.yaml")
    wip, odd = kflow.each(
        ("validate", "[wip]/diamond.yaml"), ("validate", "x[/y]/diamond.yaml"), env=WIDE
    )
    assert wip.code == 0, wip
    assert wip.stdout.splitlines() == ["[wip]/diamond.yaml: ok"]
    assert odd.code == 0, odd
    assert odd.stdout.splitlines() == ["x[/y]/diamond.yaml: ok"]


def test_each_valid_file_is_reported_ok_on_one_line_when_stdout_is_piped(
    kflow: Kflow, corpus: Path
) -> None:
    longer = corpus.parent / "a-folder-whose-name-makes-the-path-longer-than-a-terminal-is-wide"
    file = Path(shutil.copytree(corpus, longer)) / "hello.yaml"
    assert len(f"{file}: ok") > 80, "the test needs a path longer than the default width"
    result = kflow("validate", file)
    assert result.code == 0, result
    assert result.stdout.splitlines() == [f"{file}: ok"]
