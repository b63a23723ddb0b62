"""`Engine`: the synchronous Python API, a thin facade over the async `Service`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kflow.actions import KflowConfig
from kflow.engine import events as ev
from kflow.runtime import loop
from kflow.runtime.service import RunResult, Service, Workflow
from kflow.runtime.views import RunView
from kflow.runtime.worker import Observer
from kflow.store.protocol import JournalStore, RunSummary
from kflow.store.sqlite import Durability, SqliteStore


class Engine:
    """Create, execute and control durable workflow runs (the seeds' `WorkflowEngine`).

    `Engine("kflow.db")` keeps its journal in that SQLite file; pass any
    `JournalStore` to use another backend.
    """

    def __init__(
        self,
        store: JournalStore | str | Path = "kflow.db",
        *,
        config: KflowConfig | None = None,
        durability: Durability = "normal",
    ) -> None:
        if isinstance(store, str | Path):
            store = SqliteStore(store, durability)
        self.service = Service(store, config)

    def create(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> str:
        """Record a new run of `workflow` with `inputs`; returns the run id."""
        return loop.run(self.service.create(workflow, inputs, max_concurrency=max_concurrency))

    def execute(self, run_id: str, observers: Sequence[Observer] = ()) -> RunResult:
        """Execute (or continue) a run in this process until it ends."""
        return loop.run(self.service.execute([run_id], observers))[0]

    def run(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> RunResult:
        """Create a run and execute it to the end."""
        return loop.run(self.service.run(workflow, inputs, max_concurrency=max_concurrency))

    def pause(self, run_id: str, reason: str = "") -> str:
        """Start no new steps until resumed."""
        return loop.run(self.service.pause(run_id, reason))

    def resume(self, run_id: str) -> str:
        """Let a paused run go on (call `execute` if no worker owns it)."""
        return loop.run(self.service.resume(run_id))

    def cancel(self, run_id: str, reason: str = "") -> str:
        """Cancel a run, recording `reason`."""
        return loop.run(self.service.cancel(run_id, reason))

    def recover(self) -> list[RunResult]:
        """Continue every unfinished run whose worker is gone."""
        return loop.run(self.service.recover())

    def status(self, run_id: str) -> RunView:
        """The run's state: each step's status, attempts, timing and error."""
        return self.service.status(run_id)

    def history(self, run_id: str) -> list[ev.AnyEvent]:
        """The run's journal."""
        return self.service.history(run_id)

    def runs(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first."""
        return self.service.runs(status, limit)

    def close(self) -> None:
        """Close the store."""
        self.service.store.close()
