"""`kflow.Engine`, the synchronous Python API, on a SQLite file shared with the CLI."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kflow import Engine, RunResult
from kflow.errors import InputError, RunNotFound, RunStateError
from tests.acceptance.conftest import Kflow

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on `tmp_path/journal.db`, the file the `kflow` fixture uses too.

    Runs import `steps` from the corpus copy, so the import path and the module are
    put back afterwards.
    """
    path = list(sys.path)
    engine = Engine(tmp_path / "journal.db")
    yield engine
    engine.close()
    sys.path[:] = path
    sys.modules.pop("steps", None)


def started(engine: Engine, run_id: str) -> set[str]:
    """Steps that have started at least once."""
    return {step.id for step in engine.status(run_id).steps if step.attempts > 0}


def test_create_records_a_run_and_execute_runs_it_to_the_end(engine: Engine, corpus: Path) -> None:
    run_id = engine.create(corpus / "hello.yaml", {"name": "Ann", "mode": "loud"})
    before = engine.status(run_id)
    assert before.status == "running"
    assert before.live is False
    assert [step.status for step in before.steps] == ["ready", "pending"]

    result = engine.execute(run_id)
    assert isinstance(result, RunResult)
    assert result.ok
    assert result.run_id == run_id
    assert result.outputs == {"greeting": "HELLO, ANN", "echoed": "HELLO, ANN"}
    assert result.error is None
    after = engine.status(run_id)
    assert after.status == "succeeded"
    assert after.outputs == result.outputs
    assert after.to_json()["steps"][0]["attempts"] == 1


def test_run_creates_and_executes_and_runs_lists_newest_first(engine: Engine, corpus: Path) -> None:
    first = engine.run(corpus / "hello.yaml", {"name": "Ann"})
    failed = engine.run(corpus / "raises.yaml")
    assert first.ok
    assert not failed.ok
    assert failed.status == "failed"
    assert failed.failed_step == "explode"
    assert failed.error == "ValueError: the widget exploded"
    assert [(r.run_id, r.status) for r in engine.runs()] == [
        (failed.run_id, "failed"),
        (first.run_id, "succeeded"),
    ]
    assert [r.run_id for r in engine.runs("failed")] == [failed.run_id]
    assert [r.run_id for r in engine.runs(limit=1)] == [failed.run_id]


def test_history_is_the_journal_of_the_run_in_order(engine: Engine, corpus: Path) -> None:
    result = engine.run(corpus / "hello.yaml", {"name": "Ann"})
    events = engine.history(result.run_id)
    assert [type(e).__name__ for e in events] == [
        "RunCreated",
        "StepStarted",
        "StepSucceeded",
        "StepStarted",
        "StepSucceeded",
        "RunSucceeded",
    ]
    times = [e.at for e in events]
    assert times == sorted(times)


def test_pause_resume_and_cancel_apply_directly_when_no_worker_executes_the_run(
    engine: Engine, corpus: Path
) -> None:
    run_id = engine.create(corpus / "short.yaml")
    assert engine.pause(run_id, "not yet") == "paused"
    assert engine.status(run_id).status == "paused"
    assert engine.status(run_id).reason == "not yet"
    with pytest.raises(RunStateError, match="is already paused"):
        engine.pause(run_id)
    assert engine.resume(run_id) == "resumed"
    assert engine.status(run_id).status == "running"
    assert engine.cancel(run_id, "changed my mind") == "cancelled"
    view = engine.status(run_id)
    assert view.status == "cancelled"
    assert view.reason == "changed my mind"

    result = engine.execute(run_id)
    assert result.status == "cancelled"
    assert started(engine, run_id) == set(), "a cancelled run must not start steps"


def test_a_second_engine_pauses_and_resumes_a_run_executing_in_another_thread(
    engine: Engine, corpus: Path, tmp_path: Path
) -> None:
    run_id = engine.create(corpus / "short.yaml")
    results: list[RunResult] = []
    worker = threading.Thread(target=lambda: results.append(engine.execute(run_id)))
    worker.start()
    other = Engine(tmp_path / "journal.db")
    try:
        while "one" not in started(other, run_id):
            time.sleep(0.02)
        assert other.pause(run_id, "hold on") == "requested"
        assert other.status(run_id).status == "paused"
        assert other.status(run_id).live is True
        before = started(other, run_id)
        time.sleep(0.7)  # more than two steps' worth
        assert "three" not in started(other, run_id)
        assert started(other, run_id) == before, "a paused run started a new step"
        assert worker.is_alive()
        assert other.resume(run_id) == "requested"
        worker.join(20)
    finally:
        other.close()
    assert not worker.is_alive()
    assert results[0].ok
    assert engine.status(run_id).status == "succeeded"


def test_a_run_that_was_paused_and_resumed_succeeds_without_an_error(
    engine: Engine, corpus: Path
) -> None:
    run_id = engine.create(corpus / "short.yaml")
    engine.pause(run_id, "hold on")
    engine.resume(run_id)
    result = engine.execute(run_id)
    assert result.ok
    assert result.error is None


def test_bad_inputs_unknown_runs_and_finished_runs_raise_kflow_errors(
    engine: Engine, corpus: Path
) -> None:
    with pytest.raises(InputError) as bad:
        engine.create(corpus / "hello.yaml", {"nmae": "x", "mode": "medium"})
    assert set(bad.value.problems) == {
        "unknown input 'nmae' (did you mean 'name'?); declared inputs: name, mode",
        "input 'mode': 'medium' is not one of the allowed values: plain, loud",
        "missing required input 'name' (string); pass it with -i name=...",
    }
    assert engine.runs() == []

    with pytest.raises(RunNotFound, match="no run 'feedfacefeedface'"):
        engine.status("feedfacefeedface")
    done = engine.run(corpus / "diamond.yaml")
    with pytest.raises(RunStateError, match="has already succeeded; nothing to cancel"):
        engine.cancel(done.run_id)


def test_recover_finishes_a_run_whose_kflow_process_was_killed(
    engine: Engine, kflow: Kflow, corpus: Path
) -> None:
    run = kflow.start("run", corpus / "short.yaml")
    run_id = run.run_id()
    run.wait_for(r"step one started")
    run.send(signal.SIGKILL)
    run.finish()
    results = engine.recover()
    assert [(r.run_id, r.status) for r in results] == [(run_id, "succeeded")]
    assert engine.recover() == []
