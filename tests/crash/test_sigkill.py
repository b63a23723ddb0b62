"""Kill a real `kflow run` with SIGKILL at many points, recover, and check the journal.

Each trial lets the run commit N journal events, kills the process with
SIGKILL, then runs `kflow recover` in a new process. The final outputs must
equal those of an uninterrupted run, no finished step may run again, and
every step must have succeeded exactly once in the journal.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kflow.engine import events as ev
from kflow.store.sqlite import SqliteStore

HERE = Path(__file__).parent
WORKFLOW = HERE / "workflow.yaml"
TASKS = 1 + 6 + 5  # seed, six squares, left, left2, join, side, final
TOTAL_EVENTS = 1 + 2 * TASKS + 1


def kflow(db: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KFLOW_CRASH_LOG": str(log)}
    command = [
        sys.executable,
        "-m",
        "kflow.cli",
        "--db",
        str(db),
        "--config",
        str(HERE / "kflow.toml"),
    ]
    return subprocess.Popen(
        [*command, *args],
        env=env,
        cwd=HERE,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def committed_events(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0


def journal(db: Path) -> list[ev.AnyEvent]:
    store = SqliteStore(db)
    try:
        (run,) = store.list_runs()
        return store.read(run.run_id)
    finally:
        store.close()


def outputs_of(process: subprocess.Popen[str]) -> Any:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("reference")
    result = outputs_of(kflow(folder / "k.db", folder / "log", "run", str(WORKFLOW), "--json"))
    assert result["status"] == "succeeded"
    assert len(journal(folder / "k.db")) == TOTAL_EVENTS
    outputs: dict[str, Any] = result["outputs"]
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", range(1, TOTAL_EVENTS, 2))
def test_a_run_killed_after_n_events_recovers_to_the_same_result(
    tmp_path: Path, reference: dict[str, Any], kill_after: int
) -> None:
    db, log = tmp_path / "k.db", tmp_path / "log"
    first = kflow(db, log, "run", str(WORKFLOW))
    deadline = time.monotonic() + 30
    while committed_events(db) < kill_after and first.poll() is None:
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.001)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    before = journal(db)
    finished_before = {(e.step, e.index) for e in before if isinstance(e, ev.StepSucceeded)}
    interrupted = _interrupted(before)

    recovered = outputs_of(kflow(db, log, "recover", "--json"))

    after = journal(db)
    if isinstance(before[-1], ev.RunSucceeded):
        assert recovered == []  # killed after the end: nothing to do
    else:
        assert [r["status"] for r in recovered] == ["succeeded"]
        assert recovered[0]["outputs"] == reference
        if len(before) > 1:  # steps had started, so the dead worker left its lease behind
            assert isinstance(after[len(before)], ev.RunRecovered)
    assert isinstance(after[-1], ev.RunSucceeded) and after[-1].outputs == reference
    new_events = after[len(before) :]
    restarted = {(e.step, e.index): e.attempt for e in new_events if isinstance(e, ev.StepStarted)}
    assert not finished_before & restarted.keys(), "a finished step ran again"
    for task, attempt in interrupted.items():
        assert restarted[task] == attempt + 1, f"{task} should run again as attempt {attempt + 1}"
    successes = Counter((e.step, e.index) for e in after if isinstance(e, ev.StepSucceeded))
    assert len(successes) == TASKS and set(successes.values()) == {1}
    traces = Counter(tuple(line.split(",")) for line in log.read_text().splitlines())
    for (step, index), _ in successes.items():
        assert traces[(step, str(index), _attempt_of(after, step, index))] >= 1


def _interrupted(events: list[ev.AnyEvent]) -> dict[tuple[str, int | None], int]:
    """Attempts that had started but not ended when the process died."""
    open_attempts: dict[tuple[str, int | None], int] = {}
    for event in events:
        if isinstance(event, ev.StepStarted):
            open_attempts[(event.step, event.index)] = event.attempt
        elif isinstance(event, ev.StepSucceeded | ev.StepFailed):
            open_attempts.pop((event.step, event.index), None)
    return open_attempts


def _attempt_of(events: list[ev.AnyEvent], step: str, index: int | None) -> str:
    (attempt,) = [
        e.attempt
        for e in events
        if isinstance(e, ev.StepSucceeded) and (e.step, e.index) == (step, index)
    ]
    return str(attempt)
