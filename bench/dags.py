"""Realistic large DAGs shaped like scientific workflows, as kflow workflow specs.

Two shapes from the Pegasus workflow gallery, with every task a built-in `sleep`:

- **Montage** (an astronomical image mosaic): `mProject` fans out over N images;
  `mDiffFit` runs on each overlapping pair of neighbours in the image grid; `mConcatFit`
  joins all fits; `mBgModel`; `mBackground` fans out again over the images (each also
  needs its own projection); `mImgtbl` joins them; then the chain `mAdd -> mShrink -> mJPEG`.
- **Epigenomics** (DNA sequencing): per lane, `fastqSplit` fans out into chunks; each chunk
  is the chain `filterContams -> sol2sanger -> fastq2bfq -> map`; `mapMerge` joins a lane's
  chunks; a global `mapMerge` joins the lanes; then `maqIndex -> pileup`.

`science(steps)` puts one of each, of about half the size, side by side in one workflow.
Each task sleeps for its type's duration (5-40 ms) times a deterministic per-task jitter
of +-25%, seeded by `seed` and the task's id, so a given size and seed always gives the
same DAG. `python -m bench.dags --steps 10000` prints a DAG's shape and its lower bound.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MONTAGE_MS = {
    "mProject": 38,
    "mDiffFit": 8,
    "mConcatFit": 25,
    "mBgModel": 40,
    "mBackground": 12,
    "mImgtbl": 15,
    "mAdd": 40,
    "mShrink": 10,
    "mJPEG": 10,
}
EPIGENOMICS_MS = {
    "fastqSplit": 25,
    "filterContams": 6,
    "sol2sanger": 5,
    "fastq2bfq": 10,
    "map": 40,
    "mapMerge": 20,
    "maqIndex": 30,
    "pileup": 40,
}
JITTER = 0.25
"""Each task's duration is its type's times a factor in [1 - JITTER, 1 + JITTER]."""


@dataclass(frozen=True, slots=True)
class Task:
    """One step of a DAG: its id, its task type, how long it sleeps, what it waits for."""

    id: str
    kind: str
    seconds: float
    deps: tuple[str, ...] = ()


def _seconds(kind_ms: float, task_id: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{task_id}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64  # uniform in [0, 1)
    return round(kind_ms / 1000 * (1 - JITTER + 2 * JITTER * fraction), 5)


class _Builder:
    def __init__(self, durations: dict[str, int], seed: int, prefix: str, scale: float) -> None:
        self.durations, self.seed, self.prefix, self.scale = durations, seed, prefix, scale
        self.tasks: list[Task] = []

    def add(self, kind: str, suffix: str, deps: Sequence[str] = ()) -> str:
        task_id = f"{self.prefix}{kind}{suffix}"
        seconds = _seconds(self.durations[kind] * self.scale, task_id, self.seed)
        self.tasks.append(Task(task_id, kind, seconds, tuple(deps)))
        return task_id


def overlapping_pairs(images: int) -> list[tuple[int, int]]:
    """Neighbours in a square-ish grid of images: right, below and diagonally below-right."""
    columns = max(1, math.ceil(math.sqrt(images)))
    pairs = []
    for i in range(images):
        row, column = divmod(i, columns)
        right = i + 1 if column + 1 < columns else None
        below = (row + 1) * columns + column
        diagonal = below + 1 if column + 1 < columns else None
        pairs += [(i, j) for j in (right, below, diagonal) if j is not None and j < images]
    return pairs


def montage(images: int, seed: int = 0, prefix: str = "", scale: float = 1.0) -> list[Task]:
    """A Montage-like mosaic of `images` images (about 5 steps per image)."""
    b = _Builder(MONTAGE_MS, seed, prefix, scale)
    projected = [b.add("mProject", f"_{i}") for i in range(images)]
    fits = [
        b.add("mDiffFit", f"_{i}_{j}", [projected[i], projected[j]])
        for i, j in overlapping_pairs(images)
    ]
    concat = b.add("mConcatFit", "", fits or projected)
    model = b.add("mBgModel", "", [concat])
    corrected = [b.add("mBackground", f"_{i}", [model, projected[i]]) for i in range(images)]
    table = b.add("mImgtbl", "", corrected)
    mosaic = b.add("mAdd", "", [table])
    small = b.add("mShrink", "", [mosaic])
    b.add("mJPEG", "", [small])
    return b.tasks


def epigenomics(
    lanes: int, chunks: int, seed: int = 0, prefix: str = "", scale: float = 1.0
) -> list[Task]:
    """An Epigenomics-like pipeline: `lanes` lanes of `chunks` 4-step chains each."""
    b = _Builder(EPIGENOMICS_MS, seed, prefix, scale)
    merged = []
    for lane in range(lanes):
        split = b.add("fastqSplit", f"_{lane}")
        mapped = []
        for chunk in range(chunks):
            previous = split
            for kind in ("filterContams", "sol2sanger", "fastq2bfq", "map"):
                previous = b.add(kind, f"_{lane}_{chunk}", [previous])
            mapped.append(previous)
        merged.append(b.add("mapMerge", f"_{lane}", mapped))
    total = b.add("mapMerge", "_all", merged)
    index = b.add("maqIndex", "", [total])
    b.add("pileup", "", [index])
    return b.tasks


def montage_images_for(steps: int) -> int:
    """The fewest images whose Montage DAG has at least `steps` steps."""
    low, high = 1, max(1, steps)  # the size grows with the images: search by halves
    while low < high:
        middle = (low + high) // 2
        if 2 * middle + len(overlapping_pairs(middle)) + 6 < steps:
            low = middle + 1
        else:
            high = middle
    return low


def epigenomics_size_for(steps: int) -> tuple[int, int]:
    """Lanes and chunks per lane giving an Epigenomics DAG of at least `steps` steps."""
    lanes = 2 if steps < 500 else 4 if steps < 5000 else 8
    chunks = max(1, math.ceil((steps - 3 - 2 * lanes) / (4 * lanes)))
    return lanes, chunks


@dataclass(frozen=True, slots=True)
class Dag:
    """A generated DAG: its tasks in a topological order (each after what it waits for)."""

    name: str
    tasks: list[Task]

    def spec(self, slots: int, estimates: bool = False) -> dict[str, Any]:
        """The workflow spec as a dict: `sleep` steps, `max_concurrency` = `slots`.

        With `estimates`, each step also gets `estimate: <seconds>` (for a spec model that
        has such a field; kflow's does not yet).
        """
        steps = []
        for task in self.tasks:
            step: dict[str, Any] = {
                "id": task.id,
                "action": "sleep",
                "inputs": {"seconds": task.seconds},
            }
            if task.deps:
                step["depends_on"] = list(task.deps)
            if estimates:
                step["estimate"] = task.seconds
            steps.append(step)
        return {"id": self.name, "engine": {"max_concurrency": slots}, "steps": steps}

    @property
    def work(self) -> float:
        """Seconds of sleep in all tasks together."""
        return sum(t.seconds for t in self.tasks)

    @property
    def critical_path(self) -> float:
        """Seconds of the longest chain of tasks."""
        finish: dict[str, float] = {}
        for t in self.tasks:
            finish[t.id] = t.seconds + max((finish[d] for d in t.deps), default=0.0)
        return max(finish.values(), default=0.0)

    def lower_bound(self, slots: int) -> float:
        """No schedule on `slots` slots can be shorter: max(critical path, work / slots)."""
        return max(self.critical_path, self.work / slots)

    def kinds(self) -> dict[str, int]:
        """How many tasks of each type."""
        counts: dict[str, int] = {}
        for t in self.tasks:
            counts[t.kind] = counts.get(t.kind, 0) + 1
        return counts


def science(steps: int, seed: int = 0, scale: float = 1.0) -> Dag:
    """A Montage and an Epigenomics DAG of about `steps / 2` steps each, in one workflow.

    `scale` multiplies every duration (the jitter stays the same).
    """
    half = steps // 2
    images = montage_images_for(half)
    lanes, chunks = epigenomics_size_for(steps - half)
    tasks = montage(images, seed, "M_", scale) + epigenomics(lanes, chunks, seed, "E_", scale)
    return Dag(f"science-{steps}", tasks)


def main(argv: Sequence[str] | None = None) -> int:
    """Print a generated DAG's shape, bounds and simulated makespans as JSON."""
    import argparse
    import json

    from bench.schedule import describe  # it imports this module

    parser = argparse.ArgumentParser(prog="python -m bench.dags", description=main.__doc__)
    parser.add_argument("--steps", type=int, default=1000, help="about this many steps")
    parser.add_argument("--slots", type=int, default=64, help="steps running at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every duration")
    parser.add_argument("--spec", action="store_true", help="print the workflow spec instead")
    args = parser.parse_args(argv)
    dag = science(args.steps, args.seed, args.scale)
    shown = dag.spec(args.slots) if args.spec else describe(dag, args.slots)
    print(json.dumps(shown, indent=None if args.spec else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
