"""SIGKILL a worker executing many runs at once, then recover them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from kflow.engine import events as ev
from kflow.store.sqlite import SqliteStore
from tests.crash.test_sigkill import HERE, committed_events, kflow, outputs_of

RUNS = 150


def expected_total(n: int) -> int:
    base = n * 10
    squares = sum(base + i * i for i in range(n))
    return squares + (base + 1 + 2) + (base + 3)


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8])
def test_every_run_of_a_killed_worker_recovers_and_no_finished_step_runs_again(
    tmp_path: Path, fraction: float
) -> None:
    db, log = tmp_path / "k.db", tmp_path / "log"
    env = {**os.environ, "KFLOW_CRASH_LOG": str(log)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.crash.many_runs", str(db), str(RUNS)],
        env=env,
        cwd=HERE.parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # About 2 events per task, 10-13 tasks per run, plus start and end.
    target = int(RUNS * 24 * fraction)
    deadline = time.monotonic() + 60
    while committed_events(db) < target and worker.poll() is None:
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    _, err = worker.communicate()
    assert worker.returncode == -signal.SIGKILL, err

    store = SqliteStore(db)
    before = {r.run_id: store.read(r.run_id) for r in store.list_runs(limit=RUNS)}
    store.close()
    results = outputs_of(kflow(db, log, "recover", "--json"))
    unfinished = [r for r, events in before.items() if not isinstance(events[-1], ev.RunSucceeded)]
    assert unfinished, "the kill came too late to test anything"
    assert sorted(r["run_id"] for r in results) == sorted(unfinished)

    store = SqliteStore(db)
    for run_id, old in before.items():
        events = store.read(run_id)
        created = events[0]
        assert isinstance(created, ev.RunCreated)
        assert isinstance(events[-1], ev.RunSucceeded)
        assert events[-1].outputs["total"] == expected_total(created.inputs["n"])
        done_before = {(e.step, e.index) for e in old if isinstance(e, ev.StepSucceeded)}
        restarted = {(e.step, e.index) for e in events[len(old) :] if isinstance(e, ev.StepStarted)}
        assert not done_before & restarted, f"run {run_id}: a finished step ran again"
        successes = Counter((e.step, e.index) for e in events if isinstance(e, ev.StepSucceeded))
        assert set(successes.values()) == {1}
    store.close()
