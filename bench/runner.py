"""Running a workload's trials (here or each in a new interpreter) and reducing them to metrics."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import REPO
from bench.registry import Sample, Workload
from kflow.store.sqlite import Durability


@dataclass(frozen=True, slots=True)
class Result:
    """A workload's trials, and the metrics of their medians."""

    name: str
    action: str
    steps: int
    runs: int
    samples: list[Sample]
    commit_ms: float
    metrics: dict[str, float] = field(default_factory=dict)
    """`ms_per_step`, `x_commit`, `steps_per_s`, and the median of each value the trials gave."""

    @property
    def seconds(self) -> float:
        """The median of the trials' headline wall times."""
        return statistics.median(s.seconds for s in self.samples)


def trial_in_process(workload: Workload, db: Path, durability: Durability, quick: bool) -> Sample:
    """One trial run by `python -m bench.trial` in a new interpreter."""
    command = [sys.executable, "-m", "bench.trial", workload.name, str(db), durability]
    done = subprocess.run(
        [*command, *(["--quick"] if quick else [])],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"trial of {workload.name} failed:\n{done.stderr}")
    return Sample.from_json(json.loads(done.stdout.strip().splitlines()[-1]))


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
    """Run up to `repeat` fresh trials of the workload, each with a new SQLite file.

    With `processes` (or for an `isolated` workload), each trial runs in a new interpreter;
    otherwise all run in this one, after one another.
    """
    samples = []
    for i in range(min(repeat, workload.max_repeat or repeat)):
        db = directory / f"{workload.name}-{i}.db"
        if processes or workload.isolated:
            samples.append(trial_in_process(workload, db, durability, quick))
        else:
            samples.append(workload.trial(db, durability, quick))
    seconds = statistics.median(s.seconds for s in samples)
    steps = samples[0].steps
    ms_per_step = seconds * 1000 / steps
    metrics = {
        "ms_per_step": ms_per_step,
        "x_commit": ms_per_step / commit_ms,
        "steps_per_s": steps / seconds,
    }
    for name in samples[0].values:
        metrics[name] = statistics.median(s.values[name] for s in samples)
    return Result(
        name=workload.name,
        action=workload.action,
        steps=steps,
        runs=samples[0].runs,
        samples=samples,
        commit_ms=commit_ms,
        metrics=metrics,
    )
