"""`recover`: kill -9 a worker with 1,000 runs in flight, then time `Service.recover()`.

A subprocess (`bench.inflight`) creates the runs and executes them; once the journal shows
that every run has started a step, it gets SIGKILL. This process then opens the same file
and calls `recover()`, timing how long until every orphaned run has been adopted and has
committed its first new `StepStarted`, and until all have finished. Every run must end
`succeeded`, with the right output and each of its steps succeeded exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench import REPO
from bench.inflight import expected_total
from bench.jobs import fresh_engine, remove_database
from bench.metrics import Target
from bench.registry import Sample, workload
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.runtime import Service, loop
from kflow.store.sqlite import Durability

RUNS, STEP_SECONDS = 1000, 0.5
QUICK_RUNS, QUICK_STEP_SECONDS = 20, 0.1
STEPS = 3
_STARTED = "SELECT count(DISTINCT run_id) FROM events WHERE kind = 'step_started'"
_SUCCEEDED = "SELECT run_id, count(*) FROM events WHERE kind = 'step_succeeded' GROUP BY run_id"


@workload(
    "recover",
    "py fn (async)",
    Target("start_all_s", 2.0),
    Target("bad_runs", 0.0),
    sleeps=True,
)
def recover(db: Path, durability: Durability, quick: bool) -> Sample:
    """SIGKILL a worker with 1,000 3-step runs in flight; `recover()` resumes them all."""
    runs, seconds = (QUICK_RUNS, QUICK_STEP_SECONDS) if quick else (RUNS, STEP_SECONDS)
    remove_database(db)
    kill_when_all_started(db, durability, runs, seconds)
    with fresh_engine(db, durability, existing=True) as engine:
        service = engine.service
        orphans = len(service.store.unfinished())
        start_all, finish, recovered = loop.run(_timed_recover(service, orphans))
        bad = bad_runs(service, db, runs)
    values = {
        "start_all_s": start_all,
        "bad_runs": float(bad),
        "recovered": float(recovered),
    }
    return Sample(finish, runs * STEPS, runs, values)


def kill_when_all_started(db: Path, durability: str, runs: int, seconds: float) -> None:
    """Start `bench.inflight`, wait until every run has started a step, then SIGKILL it."""
    command = [sys.executable, "-m", "bench.inflight", str(db), durability, str(runs), str(seconds)]
    worker = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while _started(db) < runs:
            if worker.poll() is not None:
                raise RuntimeError(f"bench.inflight ended before the kill: {worker.stderr}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {_started(db)} of {runs} runs started within 120 s")
            time.sleep(0.01)
    finally:
        worker.kill()
        worker.communicate()


def _started(db: Path) -> int:
    """Runs with a committed `StepStarted`, read without writing (0 if not readable yet)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute(_STARTED).fetchone()[0])
    except sqlite3.Error:
        return 0


async def _timed_recover(service: Service, orphans: int) -> tuple[float, float, int]:
    """Seconds until every orphan's first new step started (committed), until all ended."""
    event_loop = asyncio.get_running_loop()
    everyone = event_loop.create_future()
    seen: set[str] = set()

    def observe(machine: RunMachine, event: ev.AnyEvent) -> None:
        run_id = machine.state.run_id
        if isinstance(event, ev.StepStarted) and run_id not in seen:
            seen.add(run_id)
            if len(seen) == orphans and not everyone.done():
                everyone.set_result(time.perf_counter())

    start = time.perf_counter()
    results = await service.recover([observe])
    end = time.perf_counter()
    all_started = everyone.result() if everyone.done() else float("nan")
    return all_started - start, end - start, len(results)


def bad_runs(service: Service, db: Path, runs: int) -> int:
    """Runs that did not succeed, ended with a wrong total, or did a step twice (or missing)."""
    summaries = service.runs(limit=runs + 1)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        successes = dict(conn.execute(_SUCCEEDED).fetchall())
    bad = runs - len(summaries)
    for summary in summaries:
        events = service.history(summary.run_id)
        created, last = events[0], events[-1]
        ok = (
            isinstance(created, ev.RunCreated)
            and isinstance(last, ev.RunSucceeded)
            and last.outputs.get("total") == expected_total(int(created.inputs["n"]))
            and successes.get(summary.run_id) == STEPS
        )
        bad += not ok
    return bad
