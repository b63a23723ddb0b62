"""Reads of stored runs that need no runtime: `Service` and the CLI's light commands share
them (importing the service loads the engine, the workflow language and pydantic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kflow.engine.events import AnyEvent
    from kflow.store.protocol import JournalStore, RunSummary


def history(store: JournalStore, run_id: str) -> list[AnyEvent]:
    """The run's journal, in order; `run_id` may be a unique prefix."""
    return store.read(store.resolve_id(run_id))


def runs(store: JournalStore, status: str | None = None, limit: int = 50) -> list[RunSummary]:
    """Runs, newest first (only those with `status`, if given)."""
    return store.list_runs(status, limit)
