"""What the benchmark prints: the machine, the raw-commit floor, the table and its notes."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import REPO, cli
from bench.baseline import Baseline
from bench.runner import Result
from bench.table import notes, table
from bench.workloads import REGISTRY


@dataclass(frozen=True, slots=True)
class Machine:
    """Where and when the benchmark ran."""

    cpu: str
    cores: int
    python: str
    sqlite: str
    date: str
    commit: str
    database_dir: str


def machine(database_dir: Path) -> Machine:
    """Describe this machine, the date (UTC) and the git commit (`+dirty` if changed)."""
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_git_commit(),
        database_dir=str(database_dir),
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def _git_commit() -> str:
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one benchmark run measured."""

    machine: Machine
    baseline: Baseline
    results: list[Result]
    durability: str
    repeat: int
    quick: bool
    startup: dict[str, float] | None
    """Seconds of each timed `kflow` command in a new process (`bench.cli`)."""
    processes: bool = False


def text(rep: Report) -> str:
    """The whole human-readable report."""
    label = "FULL" if rep.durability == "full" else "NORMAL"
    info, floor = rep.machine, rep.baseline
    lines = [
        f"machine: {info.cpu}, {info.cores} cores; Python {info.python}; SQLite {info.sqlite}",
        f"date: {info.date}; commit: {info.commit}; databases in {info.database_dir}",
        f"kflow durability: {rep.durability}; median of up to {rep.repeat} fresh run(s) per "
        "workload, "
        + ("each in a new process" if rep.processes else "one after another in one process")
        + ("; QUICK sizes (not comparable)" if rep.quick else ""),
        "raw SQLite INSERT+COMMIT of a ~200-byte row (WAL): "
        f"NORMAL {floor.normal_ms:.4f} ms, FULL {floor.full_ms:.4f} ms; "
        f"grouped 100 rows/commit: NORMAL {floor.normal_grouped_ms:.4f} ms/row, "
        f"FULL {floor.full_grouped_ms:.4f} ms/row",
    ]
    if rep.startup is not None:
        lines.append(cli.describe(rep.startup))
    lines += ["", table(rep.results, label)]
    details = notes(rep.results)
    if details:
        lines += ["", "details (medians):", *details]
    return "\n".join(lines)


def as_json(rep: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    workloads = []
    for r in rep.results:
        targets = REGISTRY[r.name].targets
        workloads.append(
            {
                "name": r.name,
                "action": r.action,
                "steps": r.steps,
                "runs": r.runs,
                "seconds": r.seconds,
                "samples": [s.to_json() for s in r.samples],
                "metrics": r.metrics,
                "targets": [
                    {
                        "metric": t.metric,
                        "limit": t.limit,
                        "higher_is_better": t.higher_is_better,
                        "strict": t.strict,
                        "met": t.met(r.metrics[t.metric]),
                    }
                    for t in targets
                ],
            }
        )
    return {
        "machine": asdict(rep.machine),
        "durability": rep.durability,
        "repeat": rep.repeat,
        "quick": rep.quick,
        "processes": rep.processes,
        "raw_commit_ms": asdict(rep.baseline),
        "cli_startup_seconds": rep.startup,
        "workloads": workloads,
    }
