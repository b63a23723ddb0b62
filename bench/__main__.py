"""`python -m bench`: run the workloads on the embedded store and print ms per step.

Run it from the repository root so the steps' `bench.steps:trivial` function is importable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from bench import REPO, baseline, cli, report, runner
from bench.workloads import REGISTRY, select
from kflow.store.sqlite import Durability


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time kflow workloads on the embedded SQLite store; "
        "compare each step's cost with one raw SQLite commit on the same disk.",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="fresh runs per workload (slow ones may run fewer); the median is shown",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this workload and its variants (NAME-*); repeatable. "
        f"Workloads: {', '.join(REGISTRY)}",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--durability",
        choices=["normal", "full"],
        default="normal",
        help="kflow's SQLite durability (full: fsync at every commit)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to put the temporary databases (default: the temp dir if it is on the "
        "same disk as the repository, else the repository)",
    )
    parser.add_argument(
        "--processes",
        action="store_true",
        help="run each trial in a new interpreter, as the peers were measured "
        "(default: one after another in this process)",
    )
    parser.add_argument(
        "--no-startup",
        action="store_true",
        help="skip timing the `kflow` command's start-up in new processes",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        args.workloads = select(args.only)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    return args


def database_parent(chosen: Path | None) -> Path:
    """The folder for the temporary databases: on the repository's disk, never a RAM disk."""
    if chosen is not None:
        return chosen
    temp = Path(tempfile.gettempdir())
    return temp if os.stat(temp).st_dev == os.stat(REPO).st_dev else REPO


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; returns the exit code."""
    args = parse_args(argv)
    durability = cast(Durability, args.durability)
    with tempfile.TemporaryDirectory(prefix=".kflow-bench-", dir=database_parent(args.dir)) as tmp:
        directory = Path(tmp)
        info = report.machine(directory.parent)
        floor = baseline.measure(directory, args.repeat, args.quick)
        commit_ms = floor.commit_ms(durability)
        results = []
        for workload in args.workloads:
            result = runner.run_workload(
                workload,
                directory,
                repeat=args.repeat,
                quick=args.quick,
                durability=durability,
                commit_ms=commit_ms,
                processes=args.processes,
            )
            results.append(result)
            if not args.json:
                print(f"  {workload.name}: {result.seconds:.3f} s", file=sys.stderr, flush=True)
    startup = None if args.no_startup else cli.startup_seconds(1 if args.quick else args.repeat)
    rep = report.Report(
        machine=info,
        baseline=floor,
        results=results,
        durability=durability,
        repeat=args.repeat,
        quick=args.quick,
        startup=startup,
        processes=args.processes,
    )
    print(json.dumps(report.as_json(rep), indent=2) if args.json else report.text(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
