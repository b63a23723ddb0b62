"""What the benchmark prints: the machine, the raw-commit floor, and the table of workloads."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.baseline import Baseline
from bench.runner import REPO, Result
from bench.workloads import REGISTRY, Metric, format_metric


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


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def _target(result: Result) -> tuple[str, str, str]:
    """The target, the measured value in the target's unit, and whether it was met."""
    target = REGISTRY[result.name].target if result.name in REGISTRY else None
    if target is None:
        return "-", "-", "-"
    value = result.metrics[target.metric]
    return (
        target.describe(),
        format_metric(target.metric, value),
        "yes" if target.met(value) else "NO",
    )


HEADERS = (
    "workload",
    "step action",
    "steps",
    "seconds",
    "ms/step",
    "x commit",
    "target",
    "measured",
    "met?",
)


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    """One row of table cells per result."""
    out: list[tuple[str, ...]] = []
    for r in results:
        target, measured, met = _target(r)
        x_commit = "-" if r.ideal_seconds is not None else f"{r.metrics['x_commit']:.1f}x"
        out.append(
            (
                r.name,
                r.action,
                f"{r.steps:,}",
                f"{r.seconds:.3f}",
                f"{r.metrics['ms_per_step']:.3f}",
                x_commit,
                target,
                measured,
                met,
            )
        )
    return out


def table(results: list[Result], commit_label: str) -> str:
    """The results as an aligned Markdown table."""
    headers = tuple(f"x commit ({commit_label})" if h == "x commit" else h for h in HEADERS)
    body = rows(results)
    widths = [max(len(c) for c in col) for col in zip(headers, *body, strict=False)]
    numeric = {2, 3, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        padded = (
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in body)])


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one benchmark run measured."""

    machine: Machine
    baseline: Baseline
    results: list[Result]
    durability: str
    repeat: int
    quick: bool
    startup: float | None
    processes: bool = False


def text(rep: Report) -> str:
    """The whole human-readable report."""
    label = "FULL" if rep.durability == "full" else "NORMAL"
    info, floor = rep.machine, rep.baseline
    lines = [
        f"machine: {info.cpu}, {info.cores} cores; Python {info.python}; SQLite {info.sqlite}",
        f"date: {info.date}; commit: {info.commit}; databases in {info.database_dir}",
        f"kflow durability: {rep.durability}; median of {rep.repeat} fresh run(s) per workload, "
        + ("each in a new process" if rep.processes else "one after another in one process")
        + ("; QUICK sizes (not comparable)" if rep.quick else ""),
        "raw SQLite INSERT+COMMIT of a ~200-byte row (WAL): "
        f"NORMAL {floor.normal_ms:.4f} ms, FULL {floor.full_ms:.4f} ms; "
        f"grouped 100 rows/commit: NORMAL {floor.normal_grouped_ms:.4f} ms/row, "
        f"FULL {floor.full_grouped_ms:.4f} ms/row",
    ]
    if rep.startup is not None:
        lines.append(f"start-up: `kflow --help` takes {rep.startup:.3f} s")
    lines += ["", table(rep.results, label)]
    return "\n".join(lines)


def as_json(rep: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    workloads = []
    for r in rep.results:
        target = REGISTRY[r.name].target
        metrics: dict[Metric, float] = dict(r.metrics)
        workloads.append(
            {
                "name": r.name,
                "action": r.action,
                "steps": r.steps,
                "runs": r.runs,
                "seconds": r.seconds,
                "samples": r.samples,
                "ideal_seconds": r.ideal_seconds,
                "metrics": metrics,
                "target": None
                if target is None
                else {
                    "metric": target.metric,
                    "limit": target.limit,
                    "higher_is_better": target.higher_is_better,
                    "met": target.met(r.metrics[target.metric]),
                },
            }
        )
    return {
        "machine": asdict(rep.machine),
        "durability": rep.durability,
        "repeat": rep.repeat,
        "quick": rep.quick,
        "processes": rep.processes,
        "raw_commit_ms": asdict(rep.baseline),
        "startup_seconds": rep.startup,
        "workloads": workloads,
    }
