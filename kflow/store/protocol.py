"""The journal store: what every backend (memory, SQLite, PostgreSQL) provides.

Methods take batches, so a backend can commit many events in one transaction
(group commit falls out of the interface).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from kflow.engine.events import AnyEvent


class Entry(msgspec.Struct, frozen=True, gc=False):
    """One event to append: `body` is its encoded form, `seq` its place in the run.

    A Struct, not a dataclass: two are made per step; it is quicker to build and, never in
    a reference cycle, need not be tracked by the garbage collector.
    """

    run_id: str
    seq: int
    event: AnyEvent
    body: bytes


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A row of the run list."""

    run_id: str
    workflow_id: str
    status: str
    created_at: float
    updated_at: float
    error: str | None


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A request from another process to the worker that owns a run."""

    id: int
    run_id: str
    action: str
    """`pause`, `resume` or `cancel`."""
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class Lease:
    """Who executes a run, and when they last said they were alive."""

    run_id: str
    owner: str
    host: str
    pid: int
    heartbeat_at: float


class JournalStore(Protocol):
    """Durable storage of run journals, control requests and leases."""

    location: str
    """Where the data lives, for messages (a path or a URL without password)."""
    slow_commits: bool
    """Whether a commit waits for the disk (an fsync), so is best made off the event loop."""

    def append(
        self,
        entries: Sequence[Entry],
        definitions: Mapping[str, bytes] | None = None,
        leases: Sequence[Lease] = (),
        holders: Mapping[str, str | None] | None = None,
    ) -> None:
        """Append all entries in one transaction; durable when this returns.

        `definitions` are workflow specs (JSON) by digest, for new runs' `RunCreated`
        events to refer to: stored in the same transaction, once per digest. `leases`
        are the leases of runs this append creates (nobody can hold those yet), taken in
        the same transaction too. `holders`: each run's lease holder as the caller saw it
        (None: no lease); if one has changed, nothing is appended (LeaseChanged).
        """
        ...

    def definition(self, digest: str) -> bytes:
        """The workflow spec (JSON) stored under `digest`; raises DefinitionNotFound."""
        ...

    def read(self, run_id: str) -> list[AnyEvent]:
        """Every event of a run, in order; raises RunNotFound."""
        ...

    def read_runs(self, run_ids: Sequence[str]) -> dict[str, list[AnyEvent]]:
        """Every event of each run, in order (one query); raises RunNotFound for the first
        run that does not exist."""
        ...

    def resolve_id(self, prefix: str) -> str:
        """The full id of the one run whose id starts with `prefix`; raises RunNotFound."""
        ...

    def resolve_ids(self, prefixes: Sequence[str]) -> list[str]:
        """`resolve_id` for each prefix, in order (full ids are found in one query)."""
        ...

    def list_runs(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first, optionally only those with `status`."""
        ...

    def unfinished(self) -> list[str]:
        """Ids of runs that are running or paused, oldest first."""
        ...

    def request(self, run_id: str, action: str, reason: str, at: float) -> int:
        """Queue a control request for the run's owner; returns its id."""
        ...

    def pending_requests(self) -> list[ControlRequest]:
        """Control requests not yet handled, oldest first."""
        ...

    def mark_handled(self, request_ids: Sequence[int], at: float) -> None:
        """Record that these requests were carried out."""
        ...

    def is_handled(self, request_id: int) -> bool:
        """Whether a control request was carried out."""
        ...

    def lease(self, run_id: str) -> Lease | None:
        """The run's lease, if any."""
        ...

    def leases_of(self, run_ids: Sequence[str]) -> dict[str, Lease]:
        """The leases on these runs (one query); a run without one is left out."""
        ...

    def take_leases(self, leases: Sequence[Lease], seen: Mapping[str, str | None]) -> list[str]:
        """Take each lease if its holder is still the one in `seen`; returns the runs taken."""
        ...

    def heartbeat(self, owner: str, at: float) -> None:
        """Renew every lease of `owner`."""
        ...

    def release(self, run_ids: Sequence[str], owner: str) -> None:
        """Give up leases held by `owner`."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
