"""Bad input of every kind: a readable error, the right exit code, stored runs unharmed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.conftest import Arg, Kflow, api_run, locked, read_only, stored_runs

pytestmark = pytest.mark.timeout(30)

WIDE = {"COLUMNS": "250"}
"""Keeps rich from wrapping the failure report at 80 columns, so messages can be matched whole."""


@pytest.fixture
def earlier_run(kflow: Kflow, corpus: Path) -> str:
    """A run that succeeded before the bad input; it must survive whatever comes next.

    Made through the Python API, which is quicker than starting another `kflow`.
    """
    return api_run(kflow.db, corpus / "diamond.yaml")


def assert_unharmed(kflow: Kflow, earlier_run: str) -> None:
    """The journal still holds exactly the earlier run, still succeeded."""
    assert stored_runs(kflow.db) == {earlier_run: "succeeded"}


# -- definitions --------------------------------------------------------------------


def test_malformed_yaml_is_reported_at_its_line_and_column_and_nothing_runs(
    kflow: Kflow, corpus: Path, earlier_run: str
) -> None:
    file = corpus / "malformed.yaml"
    result = kflow("run", file)
    assert result.code == 2, result
    assert result.stderr.startswith("error: the workflow definition has 1 problem\n")
    assert f"{file}:5:12: YAML syntax error: mapping values are not allowed" in result.stderr
    assert "hint: check the indentation and quoting" in result.stderr
    assert "Traceback" not in result.text
    assert_unharmed(kflow, earlier_run)


def test_a_definition_failing_validation_lists_every_problem_and_nothing_runs(
    kflow: Kflow, corpus: Path, earlier_run: str
) -> None:
    file = corpus / "invalid.yaml"
    result = kflow("run", file)
    assert result.code == 2, result
    assert "the workflow definition has 3 problems" in result.stderr
    for where in ("4:25: inputs[0].type", "8:14: steps[0].timeout", "12:20: step 'report'"):
        assert f"{file}:{where}" in result.stderr, result
    assert_unharmed(kflow, earlier_run)


def test_a_missing_workflow_file_is_named(kflow: Kflow) -> None:
    result = kflow("run", "no-such-flow.yaml")
    assert result.code == 2, result
    assert "no-such-flow.yaml: cannot read the file: No such file or directory" in result.stderr


# -- inputs -------------------------------------------------------------------------


BAD_INPUTS = {
    "missing required": ((), "missing required input 'name' (string); pass it with -i name=..."),
    "wrong enum value": (
        ("-i", "name=x", "-i", "mode=medium"),
        "input 'mode': 'medium' is not one of the allowed values: plain, loud",
    ),
    "unknown name": (
        ("-i", "name=x", "-i", "nmae=y"),
        "unknown input 'nmae' (did you mean 'name'?); declared inputs: name, mode",
    ),
    "no equals sign": (("-i", "name"), "'name' has no '='; write -i name=value"),
}


def test_missing_wrong_and_unknown_inputs_are_refused_before_a_run_is_created(
    kflow: Kflow, corpus: Path, earlier_run: str
) -> None:
    hello: Arg = corpus / "hello.yaml"
    results = kflow.each(*(("run", hello, *args) for args, _ in BAD_INPUTS.values()))
    for (case, (_, message)), result in zip(BAD_INPUTS.items(), results, strict=True):
        assert result.code == 2, (case, result)
        assert result.stderr.startswith("error: invalid run inputs:\n"), (case, result)
        assert f"  - {message}" in result.stderr, (case, result)
    assert_unharmed(kflow, earlier_run)


def test_all_input_problems_are_listed_at_once(kflow: Kflow, corpus: Path) -> None:
    result = kflow("run", corpus / "typed.yaml", "-i", "count=three", "-i", "loud=maybe")
    assert result.code == 2, result
    assert "input 'count': expected an integer, got 'three'" in result.stderr
    assert "input 'loud': expected true or false, got 'maybe'" in result.stderr


def test_an_inputs_file_that_is_missing_or_not_a_mapping_is_named(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    missing, listed = kflow.each(
        ("run", corpus / "hello.yaml", "--inputs-file", "nothere.json"),
        ("run", corpus / "hello.yaml", "--inputs-file", "list.json"),
    )
    assert missing.code != 0, missing
    assert "cannot read the inputs file nothere.json" in missing.stderr
    assert listed.code != 0, listed
    assert "the inputs file list.json must hold a mapping of input names to values" in (
        listed.stderr
    )


# -- unknown runs -------------------------------------------------------------------


def test_an_unknown_run_id_is_not_found_by_any_command_and_the_message_says_where_to_look(
    kflow: Kflow, earlier_run: str
) -> None:
    commands = ("status", "history", "cancel", "pause", "resume")
    results = kflow.each(*((command, "0123456789abcdef") for command in commands))
    for command, result in zip(commands, results, strict=True):
        assert result.code == 1, (command, result)
        assert result.stderr == (
            f"error: no run '0123456789abcdef' in {kflow.db}; list runs with `kflow runs` "
            "or point at another database with --db\n"
        ), (command, result)
    assert_unharmed(kflow, earlier_run)


# -- failing steps ------------------------------------------------------------------


def test_an_action_that_raises_fails_the_run_with_a_report_naming_the_step(
    kflow: Kflow, corpus: Path
) -> None:
    plain, as_json = kflow.each(
        ("run", corpus / "raises.yaml"), ("run", corpus / "raises.yaml", "--json"), env=WIDE
    )
    assert plain.code == 1, plain
    assert "step explode failed (unknown): ValueError: the widget exploded -> the run fails" in (
        plain.stdout
    )
    assert "of workflow 'raises': failed" in plain.stdout
    assert "error (unknown) at step explode: ValueError: the widget exploded" in plain.stdout
    assert "Traceback" not in plain.text
    assert as_json.code == 1, as_json
    data = as_json.json()
    assert data["status"] == "failed"
    assert data["failed_step"] == "explode"
    assert data["error"] == "ValueError: the widget exploded"
    assert data["outputs"] is None
    run_id = data["run_id"]
    brief, verbose = kflow.each(("status", run_id), ("-v", "status", run_id), env=WIDE)
    assert "`kflow -v status` shows the tracebacks or stderr" in brief.stdout
    assert "Traceback" not in brief.stdout
    assert "details of step explode:" in verbose.stdout
    assert "Traceback (most recent call last)" in verbose.stdout


def test_a_shell_command_that_does_not_exist_fails_its_step_with_a_hint(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow("run", corpus / "shell-missing.yaml", env=WIDE)
    assert result.code == 1, result
    message = "command 'kflow-no-such-program-xyz' not found; check PATH or give an absolute path"
    assert f"error (permanent) at step missing: {message}" in result.stdout
    assert stored_runs(kflow.db).popitem()[1] == "failed"


def test_a_shell_command_exiting_non_zero_reports_the_code_and_its_stderr(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow("run", corpus / "shell-exit.yaml", "--json")
    assert result.code == 1, result
    data = result.json()
    assert data["failed_step"] == "fails"
    assert "exited with code 3" in data["error"]
    assert "disk is full" in data["error"]


def test_a_step_output_that_cannot_be_serialized_fails_the_step_not_the_journal(
    kflow: Kflow, corpus: Path, earlier_run: str
) -> None:
    result = kflow("run", corpus / "unserializable.yaml", env=WIDE)
    assert result.code == 1, result
    assert "error (validation) at step opaque: step 'opaque' returned a value that cannot be " in (
        result.stdout
    )
    assert "cannot be stored in the journal" in result.stdout
    assert "return JSON-compatible data" in result.stdout
    runs = stored_runs(kflow.db)
    assert runs.pop(earlier_run) == "succeeded"
    assert list(runs.values()) == ["failed"]


def test_a_step_error_with_square_brackets_is_reported_verbatim_by_run(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow("run", corpus / "brackets.yaml", env=WIDE)
    assert "Traceback" not in result.text, result
    assert result.code == 1, result
    assert "cannot read [/etc/kflow-demo.conf]: section [server] is missing" in result.stdout


# -- the database ---------------------------------------------------------------------


def test_a_locked_database_fails_run_after_the_busy_timeout_and_reads_still_work(
    kflow: Kflow, corpus: Path, earlier_run: str
) -> None:
    with locked(kflow.db):
        reader = kflow.start("status", "--json", earlier_run)
        result = kflow("run", corpus / "hello.yaml", "-i", "name=Bo")
        read = reader.finish()
    assert result.code == 1, result
    assert result.stderr.startswith(f"error: cannot write to the database {kflow.db}: ")
    assert "database is locked" in result.stderr
    assert "close programs that keep it open in a transaction" in result.stderr
    assert "Traceback" not in result.text
    assert read.code == 0, read
    assert read.json()["status"] == "succeeded"
    assert_unharmed(kflow, earlier_run)


@pytest.mark.slow  # after a failed write kflow waits out the 5 s busy timeout twice
def test_a_database_locked_mid_run_stops_the_run_resumably(kflow: Kflow, corpus: Path) -> None:
    run = kflow.start("run", corpus / "short.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step one succeeded")
    with locked(kflow.db):
        stopped = run.finish()
    assert stopped.code == 1, stopped
    assert "database is locked" in stopped.stderr
    assert "Traceback" not in stopped.text
    status = kflow.status(run_id)
    assert status["status"] == "running"
    assert status["live"] is False
    assert status["steps"][0]["status"] == "succeeded"
    resumed = kflow("resume", run_id, "--json")
    assert resumed.code == 0, resumed
    data = resumed.json()
    assert data["status"] == "succeeded"
    assert data["steps"][0]["attempts"] == 1, "a finished step must not run again"


def test_a_read_only_database_refuses_writes_but_keeps_its_runs_readable(
    kflow: Kflow, corpus: Path, earlier_run: str
) -> None:
    with read_only(kflow.db):
        result = kflow("run", corpus / "hello.yaml", "-i", "name=Bo")
        status = kflow("status", "--json", earlier_run)
    assert result.code == 1, result
    assert "attempt to write a readonly database" in result.stderr
    assert "the file or its folder is read-only; fix the permissions or choose another --db" in (
        result.stderr
    )
    assert "Traceback" not in result.text
    assert status.code == 0, status
    assert status.json()["status"] == "succeeded"
    assert_unharmed(kflow, earlier_run)


def test_a_db_that_is_not_a_database_or_is_in_a_missing_folder_is_refused_untouched(
    kflow: Kflow, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 200)
    nowhere = tmp_path / "nowhere" / "k.db"
    not_a_db, missing_folder = kflow.each(
        ("--db", notes, "runs"), ("--db", nowhere, "runs"), db=False
    )
    assert not_a_db.code == 1, not_a_db
    assert f"cannot open the database {notes}: file is not a database" in not_a_db.stderr
    assert "choose another --db" in not_a_db.stderr
    assert notes.read_text() == "shopping list\n" * 200
    assert missing_folder.code == 2, missing_folder
    assert f"there is no kflow journal at {nowhere}" in missing_folder.stderr
    assert "point at that file with --db" in missing_folder.stderr
    assert not nowhere.parent.exists()


def test_a_missing_or_misspelt_config_file_is_named(kflow: Kflow, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[engine]\nmax_concurency = 3\n")
    missing, misspelt = kflow.each(
        ("--config", "nope.toml", "runs"), ("--config", "bad.toml", "runs")
    )
    assert missing.code == 1, missing
    assert "config file 'nope.toml' not found" in missing.stderr
    assert misspelt.code == 1, misspelt
    assert "unknown key 'engine.max_concurency' (did you mean 'max_concurrency'?)" in (
        misspelt.stderr
    )
