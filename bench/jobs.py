"""Timing a job: create N runs of one spec in one transaction, then execute them in one worker."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.registry import Sample, Trial
from kflow.plan import Plan, compile_plan
from kflow.runtime import Engine, RunResult, Service, loop
from kflow.spec.models import WorkflowSpec
from kflow.store.sqlite import Durability


@dataclass(frozen=True, slots=True)
class Job:
    """What one trial executes: `runs` runs of `spec`, all at once in one worker."""

    spec: WorkflowSpec
    runs: int = 1
    max_concurrency: int = 8
    lower_bound: float | None = None
    """The lower bound on the makespan (e.g. the critical path of sleeping steps)."""

    @property
    def steps(self) -> int:
        """Steps executed in all runs together."""
        return len(self.spec.steps) * self.runs


def remove_database(db: Path) -> None:
    """Delete the SQLite file and its WAL and shared-memory files, if there are any."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


@contextmanager
def fresh_engine(db: Path, durability: Durability, *, existing: bool = False) -> Iterator[Engine]:
    """An engine on a new SQLite file (or on `db` as it is), deleted afterwards.

    Garbage is collected first, so none left by an earlier trial in this process is timed.
    """
    if not existing:
        remove_database(db)
    engine = Engine(db, durability=durability)
    gc.collect()
    try:
        yield engine
    finally:
        engine.close()
        remove_database(db)


def check(results: list[RunResult]) -> None:
    """Raise unless every run succeeded."""
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) did not succeed, e.g. {failed[0]}")


def time_job(job: Job, db: Path, durability: Durability) -> Sample:
    """Create (`create_many`, one transaction) and execute every run of `job` in a fresh store.

    The spec is compiled first, untimed: a definition is compiled once and then serves all
    its runs. Its compile time is reported as a value of its own.
    """
    start = time.perf_counter()
    plan = compile_plan(job.spec)
    values = {"compile_s": time.perf_counter() - start}
    with fresh_engine(db, durability) as engine:
        seconds = loop.run(_create_and_execute(engine.service, job, plan))
    if job.lower_bound is not None:
        values["x_bound"] = seconds / job.lower_bound
    return Sample(seconds, job.steps, job.runs, values)


async def _create_and_execute(service: Service, job: Job, plan: Plan) -> float:
    start = time.perf_counter()
    ids = await service.create_many(plan, [{}] * job.runs, max_concurrency=job.max_concurrency)
    results = await service.execute(ids)
    elapsed = time.perf_counter() - start
    check(results)
    return elapsed


def job_trial(make: Callable[[bool], Job]) -> Trial:
    """A trial that builds the job (untimed) and times it; keeps `make`'s docstring."""

    def trial(db: Path, durability: Durability, quick: bool) -> Sample:
        return time_job(make(quick), db, durability)

    trial.__doc__ = make.__doc__
    return trial
