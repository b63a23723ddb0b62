"""One timed trial in a process of its own: `python -m bench.trial NAME DB DURABILITY [--quick]`.

Prints the seconds that create + execute took, as a plain number on one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from bench.runner import time_job
from bench.workloads import REGISTRY
from kflow.store.sqlite import Durability


def main(argv: Sequence[str] | None = None) -> int:
    """Time one trial of the named workload and print its seconds."""
    parser = argparse.ArgumentParser(prog="python -m bench.trial")
    parser.add_argument("name", choices=list(REGISTRY))
    parser.add_argument("db", type=Path)
    parser.add_argument("durability", choices=["normal", "full"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    job = REGISTRY[args.name].make(args.quick)
    print(repr(time_job(job, args.db, cast(Durability, args.durability))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
