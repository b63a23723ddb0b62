"""`python -m bench.inflight DB DURABILITY RUNS SECONDS`: a worker for `recover` to kill.

Creates RUNS runs of a 3-step workflow in one transaction and executes them all in this
process; each step is an async Python function that waits SECONDS and adds two numbers.
The `recover` workload kills this process with SIGKILL once every run has started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from kflow.runtime import Engine, loop
from kflow.spec.models import WorkflowSpec
from kflow.store.sqlite import Durability

ADD = "bench.steps:slow_add"


def recover_spec(seconds: float) -> WorkflowSpec:
    """Three steps in a chain; the run's `total` output is 2n + 3 for input `n`."""

    def add(step_id: str, x: object, y: object) -> dict[str, object]:
        inputs = {"x": x, "y": y, "seconds": seconds}
        return {"id": step_id, "action": ADD, "inputs": inputs, "outputs": {"value": "value"}}

    return WorkflowSpec.model_validate(
        {
            "id": "recover-trial",
            "inputs": [{"name": "n", "type": "integer", "required": True}],
            "outputs": [{"name": "total", "from": "$steps.third.value"}],
            "steps": [
                add("first", "$inputs.n", 1),
                add("second", "$steps.first.value", "$inputs.n"),
                add("third", "$steps.second.value", 2),
            ],
        }
    )


def expected_total(n: int) -> int:
    """The `total` a run with input `n` must end with."""
    return (n + 1) + n + 2


def main(argv: Sequence[str] | None = None) -> int:
    """Create and execute the runs; only returns if nobody kills this process first."""
    parser = argparse.ArgumentParser(prog="python -m bench.inflight")
    parser.add_argument("db", type=Path)
    parser.add_argument("durability", choices=["normal", "full"])
    parser.add_argument("runs", type=int)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args(argv)
    engine = Engine(args.db, durability=cast(Durability, args.durability))
    inputs = [{"n": n} for n in range(args.runs)]
    results = loop.run(engine.service.run_many(recover_spec(args.seconds), inputs))
    engine.close()
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
