"""One trial in a process of its own: `python -m bench.trial NAME DB DURABILITY [--quick]`.

Prints the trial's sample as one line of JSON (its seconds, steps, runs and values).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from bench.workloads import REGISTRY
from kflow.store.sqlite import Durability


def main(argv: Sequence[str] | None = None) -> int:
    """Run one trial of the named workload and print its sample."""
    parser = argparse.ArgumentParser(prog="python -m bench.trial")
    parser.add_argument("name", choices=list(REGISTRY))
    parser.add_argument("db", type=Path)
    parser.add_argument("durability", choices=["normal", "full"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    trial = REGISTRY[args.name].trial
    sample = trial(args.db, cast(Durability, args.durability), args.quick)
    print(json.dumps(sample.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
