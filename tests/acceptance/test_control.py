"""Pause, resume, cancel and recover from a second process while `kflow run` executes."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.acceptance.conftest import Kflow, api_run, started, steps_of, stored_runs

pytestmark = pytest.mark.timeout(30)


def finished_run(kflow: Kflow, corpus: Path) -> str:
    """The id of a run of diamond.yaml that has succeeded (made through the Python API)."""
    return api_run(kflow.db, corpus / "diamond.yaml")


def test_a_paused_run_starts_no_new_steps_and_finishes_after_resume(
    kflow: Kflow, corpus: Path
) -> None:
    run = kflow.start("run", corpus / "slow.yaml", "--json")
    run_id = run.run_id()
    assert run.running(), "kflow run should print the run id as soon as the run is created"
    run.wait_for(r"step s2 started")

    paused = kflow("pause", run_id, "--reason", "lunch")
    assert paused.code == 0, paused
    assert paused.stdout.strip() == f"run {run_id} paused by the worker executing it"

    first = kflow.status(run_id)  # each status call takes longer than a step
    again = kflow("pause", run_id)
    second = kflow.status(run_id)
    assert first["status"] == second["status"] == "paused"
    assert first["reason"] == "lunch"
    assert first["live"] is True
    assert again.code == 1, again
    assert f"run '{run_id}' is already paused" in again.stderr
    assert started(second) == started(first), "a paused run started a new step"
    assert not [s for s in second["steps"] if s["status"] == "running"]
    assert len(started(second)) < 10, "the pause came too late to prove anything"
    assert run.running(), "kflow run should wait while its run is paused"

    resumed = kflow("resume", run_id)
    assert resumed.code == 0, resumed
    assert f"run {run_id} resumed by the worker executing it" in resumed.stderr
    busy = kflow("resume", run_id)
    assert busy.code == 1, busy
    assert f"run '{run_id}' is already being executed by another process" in busy.stderr
    finished = run.finish()
    assert finished.code == 0, finished
    data = finished.json()
    assert data["status"] == "succeeded"
    assert [s["attempts"] for s in data["steps"]] == [1] * 10, "no step may run twice"
    assert "run paused: lunch" in finished.stderr
    assert "run resumed" in finished.stderr


def test_cancel_records_the_reason_and_the_running_process_exits_non_zero(
    kflow: Kflow, corpus: Path
) -> None:
    run = kflow.start("run", corpus / "slow.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step s2 started")

    cancelled = kflow("cancel", run_id, "--reason", "wrong input")
    assert cancelled.code == 0, cancelled
    assert cancelled.stdout.strip() == f"run {run_id} cancelled by the worker executing it"
    finished = run.finish()
    assert finished.code == 1, finished
    data = finished.json()
    assert data["status"] == "cancelled"
    assert data["reason"] == "wrong input"
    assert data["finished_at"] is not None
    assert steps_of(data)["s10"]["attempts"] == 0
    assert "run cancelled: wrong input" in finished.stderr

    history = kflow("history", "--json", run_id)
    last = history.json()[-1]
    assert last["type"] == "run_cancelled"
    assert last["reason"] == "wrong input"


def test_after_cancel_no_step_of_the_run_is_shown_as_running(kflow: Kflow, corpus: Path) -> None:
    run = kflow.start("run", corpus / "slow.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step s1 started")
    assert kflow("cancel", run_id).code == 0
    assert run.finish().code == 1
    status = kflow.status(run_id)
    assert status["status"] == "cancelled"
    assert [s["id"] for s in status["steps"] if s["status"] == "running"] == []


def test_resume_continues_a_run_whose_process_was_killed(kflow: Kflow, corpus: Path) -> None:
    run = kflow.start("run", corpus / "short.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step two started")
    run.send(signal.SIGKILL)
    assert run.finish().code == -signal.SIGKILL

    before = kflow.status(run_id)
    assert before["status"] == "running"
    assert before["live"] is False, "a killed worker must not count as executing the run"
    interrupted = {s["id"] for s in before["steps"] if s["status"] == "running"}
    finished = {s["id"] for s in before["steps"] if s["status"] == "succeeded"}
    assert "one" in finished

    resumed = kflow("resume", run_id, "--json")
    assert resumed.code == 0, resumed
    data = resumed.json()
    assert data["status"] == "succeeded"
    for step in data["steps"]:
        expected = 2 if step["id"] in interrupted else 1
        assert step["attempts"] == expected, f"{step['id']}: {step['attempts']} attempts"
    assert "run recovered by worker" in resumed.stderr


def test_recover_continues_every_interrupted_run_and_leaves_finished_ones(
    kflow: Kflow, corpus: Path
) -> None:
    done = finished_run(kflow, corpus)
    run = kflow.start("run", corpus / "short.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step one started")
    run.send(signal.SIGKILL)
    run.finish()

    recovered = kflow("recover", "--json")
    assert recovered.code == 0, recovered
    results = recovered.json()
    assert [(r["run_id"], r["status"]) for r in results] == [(run_id, "succeeded")]
    assert results[0]["error"] is None
    assert stored_runs(kflow.db) == {done: "succeeded", run_id: "succeeded"}

    nothing = kflow("recover")
    assert nothing.code == 0, nothing
    assert "nothing to recover: no unfinished run without a live worker" in nothing.stdout


def test_a_paused_run_whose_process_died_is_executed_by_resume(kflow: Kflow, corpus: Path) -> None:
    run = kflow.start("run", corpus / "slow.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step s1 started")
    paused = kflow("pause", run_id)
    assert paused.code == 0, paused
    run.send(signal.SIGKILL)
    run.finish()
    assert kflow.status(run_id)["status"] == "paused"

    resumed = kflow("resume", run_id, "--json")
    assert resumed.code == 0, resumed
    data = resumed.json()
    assert data["status"] == "succeeded"
    assert [s["status"] for s in data["steps"]] == ["succeeded"] * 10


def test_ctrl_c_stops_run_with_exit_130_and_resume_finishes_it(kflow: Kflow, corpus: Path) -> None:
    run = kflow.start("run", corpus / "short.yaml")
    run_id = run.run_id()
    run.wait_for(r"step one succeeded")
    run.send(signal.SIGINT)
    stopped = run.finish()
    assert stopped.code == 130, stopped
    assert f"interrupted: run {run_id} stopped with finished steps saved" in " ".join(
        stopped.stderr.split()
    )
    assert re.search(rf"`kflow (--db \S+ )?resume {run_id}`", stopped.stderr), stopped

    resumed = kflow("resume", run_id, "--json")
    assert resumed.code == 0, resumed
    assert resumed.json()["status"] == "succeeded"
    assert steps_of(resumed.json())["one"]["attempts"] == 1


def test_control_commands_on_a_finished_run_say_it_has_ended(kflow: Kflow, corpus: Path) -> None:
    run_id = finished_run(kflow, corpus)
    commands = ("pause", "cancel", "resume", "status")
    results = kflow.each(*((command, run_id) for command in commands))
    for command, result in zip(commands[:3], results, strict=False):
        assert result.code == 1, (command, result)
        assert f"run '{run_id}' has already succeeded" in result.stderr, (command, result)
    assert "of workflow 'diamond': succeeded" in results[3].stdout


# -- races between a control command and the end of a run ----------------------------
# These peek at the store's `control` table (the queue of pause/resume/cancel requests)
# only to know when a command has queued its request, so the race can be set up exactly.


def queued(db: Path, run_id: str) -> int:
    """How many control requests have been queued for the run, handled or not."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT count(*) FROM control WHERE run_id = ?", (run_id,))
        return int(row.fetchone()[0])
    finally:
        connection.close()


def wait_until_queued(db: Path, run_id: str, count: int, timeout: float = 10.0) -> None:
    """Wait until `count` requests for the run are in the queue."""
    deadline = time.monotonic() + timeout
    while queued(db, run_id) < count:
        assert time.monotonic() < deadline, f"no {count} requests queued for {run_id}"
        time.sleep(0.002)


def test_a_cancel_that_arrives_as_the_run_ends_is_answered_at_once(
    kflow: Kflow, corpus: Path, tmp_path: Path
) -> None:
    for attempt in range(2):  # the worker's 0.2 s poll may still catch the request: retry once
        go = tmp_path / f"go-{attempt}"
        run = kflow.start("run", corpus / "gate.yaml", "-i", f"path={go}", "--json")
        run_id = run.run_id()
        run.wait_for(r"step wait started")
        cancel = kflow.start("cancel", run_id, "--reason", "too late")
        wait_until_queued(kflow.db, run_id, 1)
        go.touch()  # the step ends now, before the worker looks at its queue again
        finished = run.finish()
        if finished.json()["status"] == "cancelled":
            cancel.finish()
            continue  # the worker did see the request in time; no race this round
        deadline = time.monotonic() + 3
        while cancel.running() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not cancel.running(), "cancel still waits for a worker whose run has ended"
        answer = cancel.finish()
        assert "succeeded" in answer.stderr, answer
        return


def test_two_cancels_handled_together_record_one_cancellation(kflow: Kflow, corpus: Path) -> None:
    run = kflow.start("run", corpus / "slow.yaml", "--json")
    run_id = run.run_id()
    run.wait_for(r"step s1 started")
    run.send(signal.SIGSTOP)  # the worker sees both requests at its next poll
    try:
        first = kflow.start("cancel", run_id, "--reason", "first")
        second = kflow.start("cancel", run_id, "--reason", "second")
        wait_until_queued(kflow.db, run_id, 2)
    finally:
        run.send(signal.SIGCONT)
    assert first.finish().code == 0
    assert second.finish().code == 0
    assert run.finish().code == 1
    events = kflow("history", "--json", run_id).json()
    kinds = [event["type"] for event in events]
    assert kinds.count("run_cancelled") == 1, kinds
    assert kinds[-1] == "run_cancelled", "nothing may follow the end of a run"
