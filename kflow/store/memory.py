"""An in-memory `JournalStore` for tests and throwaway runs; it records every append."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kflow.engine import events as ev
from kflow.errors import DefinitionNotFound, LeaseChanged, RunNotFound, StoreError
from kflow.store.protocol import ControlRequest, Entry, Lease, RunSummary

_TERMINAL = {ev.RunSucceeded: "succeeded", ev.RunFailed: "failed", ev.RunCancelled: "cancelled"}


class MemoryStore:
    """Keeps journals in dicts; `batches` lists the size of every append, for assertions."""

    location = "memory"
    slow_commits = False

    def __init__(self) -> None:
        self.journals: dict[str, list[ev.AnyEvent]] = {}
        self.summaries: dict[str, RunSummary] = {}
        self.requests: list[ControlRequest] = []
        self.handled: set[int] = set()
        self.leases: dict[str, Lease] = {}
        self.batches: list[int] = []
        self.definitions: dict[str, bytes] = {}

    def append(
        self,
        entries: Sequence[Entry],
        definitions: Mapping[str, bytes] | None = None,
        leases: Sequence[Lease] = (),
        holders: Mapping[str, str | None] | None = None,
    ) -> None:
        """Append all entries (and keep the definitions and leases), or none if one is out
        of sequence, a lease is held already, or a lease changed hands (`holders`)."""
        for run_id, owner in (holders or {}).items():
            held = self.leases.get(run_id)
            if (held.owner if held else None) != owner:
                raise LeaseChanged(f"run '{run_id}' was taken by another worker meanwhile")
        leased: set[str] = set()
        for lease in leases:
            if lease.run_id in self.leases or lease.run_id in leased:
                raise StoreError(f"run '{lease.run_id}' has a lease already")
            leased.add(lease.run_id)
        lengths = {run_id: len(events) for run_id, events in self.journals.items()}
        for entry in entries:
            expected = lengths.get(entry.run_id, 0)
            if entry.seq != expected:
                raise StoreError(
                    f"run '{entry.run_id}': event {entry.seq} appended where {expected} was next"
                )
            lengths[entry.run_id] = expected + 1
        for digest, body in (definitions or {}).items():
            self.definitions.setdefault(digest, body)
        for entry in entries:
            self.journals.setdefault(entry.run_id, []).append(ev.decode(entry.body))
            self._project(entry)
        for lease in leases:
            self.leases[lease.run_id] = lease
        self.batches.append(len(entries))

    def definition(self, digest: str) -> bytes:
        """The workflow spec kept under `digest`."""
        if digest not in self.definitions:
            raise DefinitionNotFound(digest, self.location)
        return self.definitions[digest]

    def _project(self, entry: Entry) -> None:
        event = entry.event
        if isinstance(event, ev.RunCreated):
            self.summaries[entry.run_id] = RunSummary(
                entry.run_id, event.workflow_id, "running", event.at, event.at, None
            )
            return
        status = _TERMINAL.get(type(event))
        if isinstance(event, ev.RunPaused):
            status = "paused"
        elif isinstance(event, ev.RunResumed):
            status = "running"
        if status is not None:
            old = self.summaries[entry.run_id]
            error = event.error.message if isinstance(event, ev.RunFailed) else None
            self.summaries[entry.run_id] = RunSummary(
                old.run_id, old.workflow_id, status, old.created_at, event.at, error
            )

    def read(self, run_id: str) -> list[ev.AnyEvent]:
        """Every event of the run."""
        if run_id not in self.journals:
            raise RunNotFound(run_id, self.location)
        return list(self.journals[run_id])

    def read_runs(self, run_ids: Sequence[str]) -> dict[str, list[ev.AnyEvent]]:
        """Every event of each run."""
        return {run_id: self.read(run_id) for run_id in run_ids}

    def resolve_id(self, prefix: str) -> str:
        """The one run id starting with `prefix`."""
        found = [r for r in self.journals if r.startswith(prefix)]
        if prefix in self.journals:
            return prefix
        if len(found) == 1:
            return found[0]
        if found:
            raise StoreError(f"run id prefix '{prefix}' is ambiguous; type more of the id")
        raise RunNotFound(prefix, self.location)

    def resolve_ids(self, prefixes: Sequence[str]) -> list[str]:
        """`resolve_id` for each prefix, in order."""
        return [self.resolve_id(prefix) for prefix in prefixes]

    def list_runs(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first."""
        runs = [s for s in self.summaries.values() if status is None or s.status == status]
        runs.sort(key=lambda s: (s.created_at, s.run_id), reverse=True)
        return runs[:limit]

    def unfinished(self) -> list[str]:
        """Runs running or paused, oldest first."""
        runs = [s for s in self.summaries.values() if s.status in ("running", "paused")]
        return [s.run_id for s in sorted(runs, key=lambda s: s.created_at)]

    def request(self, run_id: str, action: str, reason: str, at: float) -> int:
        """Queue a control request."""
        request = ControlRequest(len(self.requests) + 1, run_id, action, reason, at)
        self.requests.append(request)
        return request.id

    def pending_requests(self) -> list[ControlRequest]:
        """Requests not handled yet."""
        return [r for r in self.requests if r.id not in self.handled]

    def mark_handled(self, request_ids: Sequence[int], at: float) -> None:
        """Mark requests handled."""
        self.handled.update(request_ids)

    def is_handled(self, request_id: int) -> bool:
        """Whether a request was handled."""
        return request_id in self.handled

    def lease(self, run_id: str) -> Lease | None:
        """The run's lease."""
        return self.leases.get(run_id)

    def leases_of(self, run_ids: Sequence[str]) -> dict[str, Lease]:
        """The leases on these runs."""
        return {r: self.leases[r] for r in run_ids if r in self.leases}

    def take_leases(self, leases: Sequence[Lease], seen: Mapping[str, str | None]) -> list[str]:
        """Take leases whose holder is still the one the caller saw."""
        taken = []
        for lease in leases:
            current = self.leases.get(lease.run_id)
            holder = current.owner if current else None
            if current is None or holder in (seen.get(lease.run_id), lease.owner):
                self.leases[lease.run_id] = lease
                taken.append(lease.run_id)
        return taken

    def heartbeat(self, owner: str, at: float) -> None:
        """Renew the owner's leases."""
        for run_id, lease in list(self.leases.items()):
            if lease.owner == owner:
                self.leases[run_id] = Lease(run_id, owner, lease.host, lease.pid, at)

    def release(self, run_ids: Sequence[str], owner: str) -> None:
        """Drop the owner's leases."""
        for run_id in run_ids:
            if run_id in self.leases and self.leases[run_id].owner == owner:
                del self.leases[run_id]

    def close(self) -> None:
        """Nothing to close."""
