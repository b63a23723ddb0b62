"""`kflow runs`, `kflow status RUN_ID` and `kflow history RUN_ID` on stored runs."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from kflow.store import SqliteStore
from tests.acceptance.conftest import CORPUS, Kflow, Result, api_run

pytestmark = pytest.mark.timeout(30)

WIDE = {"COLUMNS": "250"}
"""Keeps rich from squeezing tables and lines into 80 columns, so messages can be matched whole."""


@dataclass(frozen=True)
class Journal:
    """A database holding three finished runs, made once for this module."""

    db: Path
    first: str
    """hello, succeeded (the oldest)."""
    failed: str
    """raises, failed at step `explode`."""
    last: str
    """hello with mode=loud, succeeded (the newest)."""


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Journal:
    home = tmp_path_factory.mktemp("journal")
    corpus = Path(shutil.copytree(CORPUS, home / "runs"))
    db = home / "journal.db"
    first = api_run(db, corpus / "hello.yaml", {"name": "Ann"})
    failed = api_run(db, corpus / "raises.yaml")
    last = api_run(db, corpus / "hello.yaml", {"name": "Bo", "mode": "loud"})
    return Journal(db, first, failed, last)


def ids_in(text: str) -> list[str]:
    """Run ids in the order they appear."""
    return re.findall(r"\b[0-9a-f]{16,}\b", text)


def on(journal: Journal, kflow: Kflow, *args: str, wide: bool = True) -> Result:
    """Run a command on the module's journal."""
    return kflow(*args, db=journal.db, env=WIDE if wide else None)


# -- kflow runs ---------------------------------------------------------------


def test_runs_lists_every_run_newest_first_with_its_workflow_and_status(
    kflow: Kflow, journal: Journal
) -> None:
    result = on(journal, kflow, "runs")
    assert result.code == 0, result
    assert ids_in(result.stdout) == [journal.last, journal.failed, journal.first]
    rows = {ids_in(line)[0]: line for line in result.stdout.splitlines() if ids_in(line)}
    assert "hello" in rows[journal.last] and "succeeded" in rows[journal.last]
    assert "raises" in rows[journal.failed] and "failed" in rows[journal.failed]
    assert "ValueError: the widget exploded" in rows[journal.failed]


def test_runs_status_keeps_only_runs_with_that_status(kflow: Kflow, journal: Journal) -> None:
    failed, succeeded, none = kflow.each(
        ("runs", "--status", "failed"),
        ("runs", "--status", "succeeded", "--limit", "1"),
        ("runs", "--status", "cancelled"),
        db=journal.db,
        env=WIDE,
    )
    assert failed.code == 0, failed
    assert ids_in(failed.stdout) == [journal.failed]
    assert ids_in(succeeded.stdout) == [journal.last]
    assert none.code == 0, none
    assert ids_in(none.stdout) == []


def test_runs_refuses_an_unknown_status_and_names_the_known_ones(
    kflow: Kflow, journal: Journal
) -> None:
    result = on(journal, kflow, "runs", "--status", "done")
    assert result.code != 0, result
    assert "unknown status 'done'; use one of cancelled, failed, paused, running, succeeded" in (
        result.stderr
    )


def test_runs_without_a_journal_says_where_runs_are_and_creates_nothing(
    kflow: Kflow, tmp_path: Path
) -> None:
    result = kflow("runs")
    assert result.code == 2, result
    assert f"there is no kflow journal at {kflow.db}" in result.stderr
    assert not kflow.db.exists()


def test_runs_on_an_empty_journal_says_how_to_start_one(kflow: Kflow) -> None:
    SqliteStore(kflow.db).close()
    result = kflow("runs")
    assert result.code == 0, result
    assert "no runs yet; start one with `kflow run FILE`" in result.stdout


def test_runs_json_lists_the_runs_as_data(kflow: Kflow, journal: Journal) -> None:
    result = on(journal, kflow, "runs", "--json")
    assert result.code == 0, result
    data = result.json()
    assert [row["run_id"] for row in data] == [journal.last, journal.failed, journal.first]
    assert [row["status"] for row in data] == ["succeeded", "failed", "succeeded"]


def test_runs_shows_whole_run_ids_when_stdout_is_piped(kflow: Kflow, journal: Journal) -> None:
    result = on(journal, kflow, "runs", wide=False)
    assert result.code == 0, result
    assert ids_in(result.stdout) == [journal.last, journal.failed, journal.first]


# -- kflow status ---------------------------------------------------------------


def test_status_json_shows_each_step_with_its_attempts_and_timing(
    kflow: Kflow, journal: Journal
) -> None:
    result = on(journal, kflow, "status", "--json", journal.last)
    assert result.code == 0, result
    data = result.json()
    assert data["run_id"] == journal.last
    assert data["workflow_id"] == "hello"
    assert data["status"] == "succeeded"
    assert data["inputs"] == {"name": "Bo", "mode": "loud"}
    assert data["outputs"] == {"greeting": "HELLO, BO", "echoed": "HELLO, BO"}
    assert data["live"] is False
    assert data["finished_at"] >= data["created_at"]
    assert [s["id"] for s in data["steps"]] == ["greet", "echo"]
    for step in data["steps"]:
        assert step["status"] == "succeeded"
        assert step["attempts"] == 1
        assert step["duration"] is not None and step["duration"] >= 0
        assert step["error"] is None
    assert data["steps"][0]["action"] == "steps:greet"


def test_status_prints_the_run_its_steps_and_outputs(kflow: Kflow, journal: Journal) -> None:
    result = on(journal, kflow, "status", journal.first)
    assert result.code == 0, result
    assert f"run {journal.first} of workflow 'hello': succeeded" in result.stdout
    assert re.search(r"greet\s+.*succeeded\s+.*steps:greet", result.stdout)
    assert '"greeting": "hello, Ann"' in result.stdout


def test_status_of_a_failed_run_names_the_step_and_the_error(
    kflow: Kflow, journal: Journal
) -> None:
    data = on(journal, kflow, "status", "--json", journal.failed).json()
    assert data["status"] == "failed"
    assert data["failed_step"] == "explode"
    assert data["error"] == "ValueError: the widget exploded"
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["first"]["status"] == "succeeded"
    assert steps["explode"]["status"] == "failed"
    assert steps["explode"]["error"] == "ValueError: the widget exploded"
    plain = on(journal, kflow, "status", journal.failed)
    assert "error (unknown) at step explode: ValueError: the widget exploded" in plain.stdout


def test_status_accepts_a_unique_prefix_and_refuses_an_ambiguous_one(
    kflow: Kflow, journal: Journal
) -> None:
    result = on(journal, kflow, "status", "--json", journal.failed[:-1])
    assert result.code == 0, result
    assert result.json()["run_id"] == journal.failed
    shared = os.path.commonprefix([journal.first, journal.failed, journal.last])
    if not shared:
        pytest.skip("the three run ids share no prefix")
    ambiguous = on(journal, kflow, "status", shared)
    assert ambiguous.code == 1, ambiguous
    assert f"run id prefix '{shared}' is ambiguous; type more of the id" in ambiguous.stderr


# -- kflow history ----------------------------------------------------------------


def test_history_json_is_the_journal_in_order(kflow: Kflow, journal: Journal) -> None:
    result = on(journal, kflow, "history", "--json", journal.first)
    assert result.code == 0, result
    events = result.json()
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events] == [
        "run_created",
        "step_started",
        "step_succeeded",
        "step_started",
        "step_succeeded",
        "run_succeeded",
    ]
    assert events[0]["inputs"] == {"name": "Ann", "mode": "plain"}
    assert [e.get("step") for e in events[1:5]] == ["greet", "greet", "echo", "echo"]
    times = [e["at"] for e in events]
    assert times == sorted(times)


def test_history_prints_a_timeline_of_the_run(kflow: Kflow, journal: Journal) -> None:
    result = on(journal, kflow, "history", journal.failed)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    expected = [
        "run created for workflow 'raises'",
        "step first started (attempt 1)",
        "step first succeeded",
        "step explode started (attempt 1)",
        "step explode failed (unknown): ValueError: the widget exploded -> the run fails",
        "run failed at step explode (unknown): ValueError: the widget exploded",
    ]
    assert len(lines) == len(expected), result
    for n, (line, text) in enumerate(zip(lines, expected, strict=True)):
        assert re.match(rf"\s*{n}\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\s+\+\s*\d+\.\d{{3}}s\s+", line)
        assert text in line, result


def test_history_prints_one_line_per_event_when_stdout_is_piped(
    kflow: Kflow, journal: Journal
) -> None:
    result = on(journal, kflow, "history", journal.failed, wide=False)
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 6, result
    assert lines[-1].endswith(
        "run failed at step explode (unknown): ValueError: the widget exploded"
    )


# -- stored text that looks like rich markup -----------------------------------------


@pytest.fixture(scope="module")
def bracketed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A journal holding one run whose error message contains `[/etc/...]` and `[server]`."""
    home = tmp_path_factory.mktemp("brackets")
    corpus = Path(shutil.copytree(CORPUS, home / "runs"))
    cli = Kflow(home, home / "journal.db", home)
    result = cli("run", corpus / "brackets.yaml", "--json")
    assert result.code == 1, result
    assert result.json()["error"] == BRACKETED
    return cli.db, result.json()["run_id"]


BRACKETED = "ValueError: cannot read [/etc/kflow-demo.conf]: section [server] is missing"


def test_status_json_keeps_an_error_with_square_brackets_verbatim(
    kflow: Kflow, bracketed: tuple[Path, str]
) -> None:
    db, run_id = bracketed
    result = kflow("status", "--json", run_id, db=db)
    assert result.code == 0, result
    assert result.json()["error"] == BRACKETED


def test_status_shows_an_error_with_square_brackets_verbatim(
    kflow: Kflow, bracketed: tuple[Path, str]
) -> None:
    db, run_id = bracketed
    result = kflow("status", run_id, db=db, env=WIDE)
    assert result.code == 0, result
    assert BRACKETED in result.stdout


def test_history_shows_an_error_with_square_brackets_verbatim(
    kflow: Kflow, bracketed: tuple[Path, str]
) -> None:
    db, run_id = bracketed
    result = kflow("history", run_id, db=db, env=WIDE)
    assert result.code == 0, result
    assert BRACKETED in result.stdout


def test_runs_still_lists_runs_after_one_failed_with_square_brackets_in_its_error(
    kflow: Kflow, bracketed: tuple[Path, str]
) -> None:
    db, run_id = bracketed
    result = kflow("runs", db=db, env=WIDE)
    assert result.code == 0, result
    assert run_id in result.stdout
