"""`kflow run FILE`: inputs, the journal file, progress, exit codes and the examples."""

from __future__ import annotations

import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.conftest import CREATED, Kflow, steps_of

pytestmark = pytest.mark.timeout(30)


def test_a_workflow_runs_to_success_and_json_prints_its_state_and_outputs(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow("run", corpus / "hello.yaml", "-i", "name=Ann", "--json")
    assert result.code == 0, result
    data = result.json()
    assert data["status"] == "succeeded"
    assert data["outputs"] == {"greeting": "hello, Ann", "echoed": "hello, Ann"}
    assert data["inputs"] == {"name": "Ann", "mode": "plain"}
    assert {s["id"]: s["status"] for s in data["steps"]} == {
        "greet": "succeeded",
        "echo": "succeeded",
    }
    created = CREATED.search(result.stderr)
    assert created is not None, result
    assert created.group(1) == data["run_id"]
    assert "step greet succeeded" in result.stderr, "with --json, progress goes to stderr"


def test_progress_is_printed_as_plain_lines_when_stdout_is_not_a_terminal(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow("run", corpus / "hello.yaml", "-i", "name=Ann")
    assert result.code == 0, result
    assert "\x1b[" not in result.stdout, "no terminal escapes in a pipe"
    lines = result.stdout.splitlines()
    expected = [
        "step greet started (attempt 1)",
        "step greet succeeded",
        "step echo started (attempt 1)",
        "step echo succeeded",
        "run succeeded",
    ]
    positions = [next(i for i, line in enumerate(lines) if line.endswith(e)) for e in expected]
    assert positions == sorted(positions), result
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3} [0-9a-f]{6} step greet started", lines[0]), result
    assert '"greeting": "hello, Ann"' in result.stdout


def test_on_a_terminal_run_draws_a_progress_bar_and_reports_the_outputs(
    kflow: Kflow, corpus: Path
) -> None:
    leader, follower = pty.openpty()
    argv = kflow.argv(("run", corpus / "hello.yaml", "-i", "name=Tty"))
    with subprocess.Popen(
        argv,
        cwd=kflow.cwd,
        env=kflow.env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the command exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(20)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert code == 0, screen
    assert "2/2 steps" in screen
    assert "hello, Tty" in screen


def test_inputs_come_from_a_json_or_yaml_file_and_i_overrides_them(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    (tmp_path / "in.json").write_text('{"name": "Bo", "mode": "loud"}')
    result = kflow("run", corpus / "hello.yaml", "--inputs-file", "in.json", "--json")
    assert result.code == 0, result
    assert result.json()["outputs"]["greeting"] == "HELLO, BO"

    (tmp_path / "in.yaml").write_text("name: Cy\nmode: loud\n")
    result = kflow(
        "run", corpus / "hello.yaml", "--inputs-file", "in.yaml", "-i", "mode=plain", "--json"
    )
    assert result.code == 0, result
    assert result.json()["inputs"] == {"name": "Cy", "mode": "plain"}


def test_command_line_inputs_are_converted_to_the_declared_types(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow(
        "run",
        corpus / "typed.yaml",
        *("-i", "count=3", "-i", "ratio=1.5", "-i", "loud=true", "-i", 'tags=["a", "b"]'),
        "--json",
    )
    assert result.code == 0, result
    assert result.json()["outputs"] == {"count": 3, "ratio": 1.5, "loud": True, "tags": ["a", "b"]}


def test_the_research_and_summarize_example_returns_a_summary_and_its_sources(
    kflow: Kflow, examples: Path
) -> None:
    result = kflow(
        "run",
        "research-and-summarize.yaml",
        *("-i", "topic=durable workflows", "-i", "depth=deep"),
        "--json",
        cwd=examples,
    )
    assert result.code == 0, result
    data = result.json()
    assert data["status"] == "succeeded"
    summary, sources = data["outputs"]["summary"], data["outputs"]["sources"]
    assert summary["title"] == "Research summary: durable workflows"
    assert summary["question_count"] == 5  # deep: five sub-questions
    assert len(summary["sections"]) == 5
    assert summary["source_count"] == 10
    assert sources, "the sources output is empty"
    urls = {source["url"] for item in sources for source in item}
    assert len(urls) == 10
    assert all(url.startswith("https://example.org/durable-workflows/") for url in urls)
    steps = steps_of(data)
    assert [s["status"] for s in steps.values()] == ["succeeded"] * 4
    assert steps["information_gathering"]["items"] == 5
    assert not (examples / "kflow.db").exists(), "--db must win over [engine] db"


def test_without_db_the_journal_is_kflow_db_in_the_current_directory(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    here = tmp_path / "elsewhere"
    here.mkdir()
    result = kflow("run", corpus / "hello.yaml", "-i", "name=Di", "--json", db=False, cwd=here)
    assert result.code == 0, result
    assert (here / "kflow.db").is_file()
    assert not kflow.db.exists()
    status = kflow("status", "--json", result.json()["run_id"], db=False, cwd=here)
    assert status.code == 0, status
    assert status.json()["status"] == "succeeded"


def test_engine_db_in_kflow_toml_chooses_the_journal_file(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "state").mkdir(parents=True)
    (project / "kflow.toml").write_text('[engine]\ndb = "state/journal.db"\n')
    (project / "flow.yaml").write_text("id: flow\nsteps:\n  - {id: only, action: noop}\n")
    result = kflow("run", "flow.yaml", "--json", db=False, cwd=project)
    assert result.code == 0, result
    assert (project / "state" / "journal.db").is_file()
    assert not (project / "kflow.db").exists()
    status = kflow("status", "--json", result.json()["run_id"], db=False, cwd=project)
    assert status.code == 0, status


def test_the_follow_up_command_printed_by_run_finds_the_run_from_the_same_directory(
    kflow: Kflow, examples: Path
) -> None:
    result = kflow(
        "run", "examples/research-and-summarize.yaml", "-i", "topic=tea", "--json", db=False
    )
    assert result.code == 0, result
    hint = re.search(r"follow it with `kflow ([^`]+)`", result.stderr)
    assert hint is not None, result
    follow = kflow(*shlex.split(hint.group(1)), db=False)
    assert follow.code == 0, follow


def test_the_console_script_lists_every_command_in_its_help() -> None:
    script = Path(sys.executable).parent / "kflow"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for command in (
        *("run", "validate", "schema", "graph", "runs", "status", "history"),
        *("cancel", "pause", "resume", "recover"),
    ):
        assert re.search(rf"^\W*{command}\b", done.stdout, re.MULTILINE), (command, done.stdout)
