"""Timing one trial: a fresh SQLite file, create + execute every run of a job, one worker."""

from __future__ import annotations

import asyncio
import gc
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.workloads import Job, Metric, Workload
from kflow.runtime import Engine, Service
from kflow.store.sqlite import Durability

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Result:
    """A workload's timings over its fresh trials, and the metrics of their median."""

    name: str
    action: str
    steps: int
    runs: int
    samples: list[float]
    commit_ms: float
    ideal_seconds: float | None = None
    metrics: dict[Metric, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """The median wall time of create + execute."""
        return statistics.median(self.samples)


def time_job(job: Job, db: Path, durability: Durability) -> float:
    """Seconds to create and execute every run of `job` in a fresh store at `db`."""
    engine = Engine(db, durability=durability)
    gc.collect()  # start clean: no garbage left by an earlier trial in this process
    try:
        return asyncio.run(_create_and_execute(engine.service, job))
    finally:
        engine.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


async def _create_and_execute(service: Service, job: Job) -> float:
    start = time.perf_counter()
    ids = [
        await service.create(job.spec, max_concurrency=job.max_concurrency) for _ in range(job.runs)
    ]
    results = await service.execute(ids)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) did not succeed, e.g. {failed[0]}")
    return elapsed


def time_in_process(workload: Workload, db: Path, durability: Durability, quick: bool) -> float:
    """Seconds of one trial run by `python -m bench.trial` in a new interpreter."""
    command = [sys.executable, "-m", "bench.trial", workload.name, str(db), durability]
    done = subprocess.run(
        [*command, *(["--quick"] if quick else [])],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def run_workload(
    workload: Workload,
    directory: Path,
    *,
    repeat: int,
    quick: bool,
    durability: Durability,
    commit_ms: float,
    processes: bool = False,
) -> Result:
    """Time `repeat` fresh trials of the workload, each in a new SQLite file in `directory`.

    With `processes`, each trial runs in a new interpreter (as the peers were measured);
    otherwise all run in this one, after one another.
    """
    job = workload.make(quick)
    samples = []
    for i in range(repeat):
        db = directory / f"{workload.name}-{i}.db"
        if processes:
            samples.append(time_in_process(workload, db, durability, quick))
        else:
            samples.append(time_job(job, db, durability))
    seconds = statistics.median(samples)
    ms_per_step = seconds * 1000 / job.steps
    metrics: dict[Metric, float] = {
        "ms_per_step": ms_per_step,
        "x_commit": ms_per_step / commit_ms,
        "steps_per_s": job.steps / seconds,
    }
    if job.ideal_seconds is not None:
        metrics["x_ideal"] = seconds / job.ideal_seconds
    return Result(
        name=workload.name,
        action=workload.action,
        steps=job.steps,
        runs=job.runs,
        samples=samples,
        commit_ms=commit_ms,
        ideal_seconds=job.ideal_seconds,
        metrics=metrics,
    )


def startup_seconds(repeat: int) -> float | None:
    """The median wall time of `kflow --help` in a new process, or None if not installed."""
    kflow = Path(sys.executable).with_name("kflow")
    command = str(kflow) if kflow.exists() else shutil.which("kflow")
    if command is None:
        return None
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([command, "--help"], check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)
