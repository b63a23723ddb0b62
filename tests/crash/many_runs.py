"""`python -m tests.crash.many_runs DB N`: execute N runs of the trial workflow at once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kflow.actions import load_config
from kflow.runtime import Service
from kflow.store import SqliteStore

HERE = Path(__file__).parent


def main() -> None:
    """Create N runs in one transaction and execute them together in one worker."""
    db, count = sys.argv[1], int(sys.argv[2])
    service = Service(SqliteStore(db), load_config(HERE / "kflow.toml"))
    inputs = [{"n": 3 + i % 4} for i in range(count)]
    asyncio.run(service.run_many(HERE / "workflow.yaml", inputs))


if __name__ == "__main__":
    main()
