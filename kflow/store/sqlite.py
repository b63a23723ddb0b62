"""The embedded store: one SQLite file in WAL mode, shared safely by several processes."""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import msgspec

from kflow.engine import events as ev
from kflow.errors import DefinitionNotFound, LeaseChanged, RunNotFound, StoreError
from kflow.store import sql
from kflow.store.batches import Row, batch_rows, row_events
from kflow.store.checkpointer import Checkpointer
from kflow.store.protocol import ControlRequest, Entry, Lease, RunSummary
from kflow.store.sequence import OutOfSequence, RunEnds

Durability = Literal["normal", "full"]
_BUSY_TIMEOUT_S = 5
_BACKSTOP_PAGES = 10_000
"""WAL pages (40 MB) past which a commit checkpoints in place after all."""
_WAL_LIMIT_BYTES = 64 * 1024 * 1024
_Q = sql.queries("sqlite")
_STATUS_OF: dict[type[ev.Event], str] = {
    ev.RunPaused: "paused",
    ev.RunResumed: "running",
    ev.RunSucceeded: "succeeded",
    ev.RunFailed: "failed",
    ev.RunCancelled: "cancelled",
}

_PROJECTED = frozenset({ev.RunCreated, *_STATUS_OF})
"""The events that change a run's row in `runs`."""
_event_of = operator.attrgetter("event")
_TERMINAL = frozenset(ev.TERMINAL_EVENTS)


class SqliteStore:
    """A `JournalStore` in one SQLite file.

    `durability="normal"` survives a crash of the process (WAL, synchronous=NORMAL);
    `"full"` also survives power loss (an fsync at every commit).
    """

    def __init__(self, path: str | Path, durability: Durability = "normal") -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.slow_commits = durability == "full"
        if "://" in str(path):
            raise StoreError(
                "only SQLite files are supported as the journal for now; give a file path "
                "(a database URL is not a path)"
            )
        self._lock = threading.RLock()
        self._lowered = False
        """Whether a carried write left the connection below synchronous=FULL."""
        self._ends = RunEnds()
        self._checkpointer = Checkpointer(self.path, _BUSY_TIMEOUT_S * 1000)
        # A store dropped without close() must not leave its thread behind.
        weakref.finalize(self, self._checkpointer.stop)
        if not self.path.parent.exists():
            raise StoreError(
                f"cannot open the database {self.path}: the folder {self.path.parent} does not "
                "exist; create it or choose another path with --db"
            )
        if not self.path.exists():
            # Journals hold inputs and outputs: readable by their owner only. SQLite gives
            # the -wal and -shm files the same permissions.
            with contextlib.suppress(OSError):
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_S * 1000:d}")
            mode = self._enter_wal()
            synchronous = "FULL" if durability == "full" else "NORMAL"
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
            # Checkpoints run in their own thread (see `kflow.store.checkpointer`); the
            # writer checkpoints itself only if the WAL grows far beyond what that
            # thread keeps it at, and a WAL file left large is cut back after a reset.
            self._db.execute(f"PRAGMA wal_autocheckpoint = {_BACKSTOP_PAGES:d}")
            self._db.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES:d}")
            self._migrate()
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        if mode != "wal" and self._writable():
            raise StoreError(f"{self.path}: could not switch the database to WAL mode ({mode})")

    # -- journal ----------------------------------------------------------

    def append(
        self,
        entries: Sequence[Entry],
        definitions: Mapping[str, bytes] | None = None,
        leases: Sequence[Lease] = (),
        holders: Mapping[str, str | None] | None = None,
    ) -> None:
        """Append all entries in one transaction, keeping the `runs` projection in step.

        A run's events share one row (`kflow.store.batches`): a row per event made
        SQLite's share of a step several times larger. `definitions` are stored in the
        same transaction, once per digest.
        """
        rows = batch_rows(entries)
        with self._lock:  # a failed commit takes the ends back before anyone appends again
            if not (definitions or leases or holders) and self._rows_alone(entries, rows):
                self._append_rows(rows)
                return
            try:
                with self._transaction("write to", stored_bytes=_stored_bytes(rows)):
                    if holders:
                        self._check_holders(holders)
                    ends = self._in_sequence(rows)
                    if definitions:
                        self._db.executemany(_Q["insert_definition"], definitions.items())
                    self._insert_rows(rows)
                    created, statuses = _projection(entries)
                    if created:
                        self._db.executemany(_Q["insert_run"], created)
                    if leases:
                        self._db.executemany(_Q["insert_lease"], map(_lease_row, leases))
                    if statuses:
                        self._db.executemany(_Q["set_run_status"], statuses)
                    self._ends.advance(ends, _finished(entries))
            except BaseException:
                self._ends.forget(row[0] for row in rows)
                raise

    def _check_holders(self, holders: Mapping[str, str | None]) -> None:
        """LeaseChanged unless each run's lease is held by the owner given (None: none)."""
        rows = self._db.execute(_Q["get_leases"], (_json_list(list(holders)),))
        found = {row[0]: row[1] for row in rows}
        for run_id, owner in holders.items():
            if found.get(run_id) != owner:
                raise LeaseChanged(f"run '{run_id}' was taken by another worker meanwhile")

    def _rows_alone(self, entries: Sequence[Entry], rows: list[Row]) -> bool:
        """Whether `rows` are the whole append: no run made or ended (`runs` stays as it
        is), every run's end known (nothing to read first), few enough for one statement,
        and the connection at its own synchronous level, outside any transaction."""
        if len(rows) > _ROWS_PER_STATEMENT or self._lowered or self._db.in_transaction:
            return False
        if self._ends.unknown(rows):
            return False
        # In C, not a generator: this runs for every entry of every commit.
        return _PROJECTED.isdisjoint(map(type, map(_event_of, entries)))

    def _append_rows(self, rows: list[Row]) -> None:
        """Append rows in one statement, its own transaction (lock held).

        One statement, not BEGIN, INSERT and COMMIT: each call into SQLite lets go of
        the GIL and takes it back, and in a writer thread (`full`) each take waits for
        the event loop to let go (~0.1 ms when it is busy) while the commit's fsync and
        every step waiting for it wait too.
        """
        try:
            ends = self._in_sequence(rows)  # the ends are known: this reads nothing
            try:
                self._insert_rows(rows)
            except sqlite3.Error as exc:
                raise self._error(exc, "write to") from exc
        except BaseException:
            self._ends.forget(row[0] for row in rows)
            raise
        self._checkpointer.committed(_stored_bytes(rows))
        self._ends.advance(ends)

    def _insert_rows(self, rows: list[Row]) -> None:
        """Insert rows `_ROWS_PER_STATEMENT` at a time (one call into SQLite each, not one
        per row as `executemany` makes)."""
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            self._db.execute(_rows_statement(len(chunk)), [v for row in chunk for v in row])

    def _in_sequence(self, rows: list[Row]) -> dict[str, int]:
        """The runs' ends after `rows`, or StoreError if one would not start at its run's
        end (see `kflow.store.sequence`); reads the ends this store does not know yet."""
        unknown = self._ends.unknown(rows)
        read: dict[str, int] = {}
        if unknown:
            read = dict(self._db.execute(_Q["run_ends"], (_json_list(unknown),)).fetchall())
        try:
            return self._ends.check(rows, read)
        except OutOfSequence as exc:
            raise self._error(exc, "write to") from None

    def read(self, run_id: str) -> list[ev.AnyEvent]:
        """Every event of the run, in order."""
        rows = self._query("run_events", (run_id,))
        if not rows:
            raise RunNotFound(run_id, self.location)
        events = [event for count, body in rows for event in row_events(count, body)]
        self._saw(run_id, events)
        return events

    def read_runs(self, run_ids: Sequence[str]) -> dict[str, list[ev.AnyEvent]]:
        """Every event of each run, in order, read in one query."""
        if len(run_ids) == 1:  # the plain query is twice as quick for one run
            return {run_ids[0]: self.read(run_ids[0])}
        found: dict[str, list[ev.AnyEvent]] = {run_id: [] for run_id in run_ids}
        for run_id, count, body in self._query("runs_events", (_json_list(run_ids),)):
            found[run_id] += row_events(count, body)
        for run_id, events in found.items():
            if not events:
                raise RunNotFound(run_id, self.location)
            self._saw(run_id, events)
        return found

    def _saw(self, run_id: str, events: list[ev.AnyEvent]) -> None:
        if type(events[-1]) not in _TERMINAL:  # a finished run takes no more events
            with self._lock:  # not between another thread's append and its failure
                self._ends.saw(run_id, len(events))

    def definition(self, digest: str) -> bytes:
        """The workflow spec stored under `digest`."""
        rows = self._query("definition", (digest,))
        if not rows:
            raise DefinitionNotFound(digest, self.location)
        return bytes(rows[0][0])

    def resolve_id(self, prefix: str) -> str:
        """The full id of the single run whose id starts with `prefix`."""
        if self._query("run_exists", (prefix,)):
            return prefix
        found = self._query("find_run_ids", (prefix, prefix + "\uffff"))
        if len(found) == 1:
            return str(found[0][0])
        if found:
            raise StoreError(f"run id prefix '{prefix}' is ambiguous; type more of the id")
        raise RunNotFound(prefix, self.location)

    def resolve_ids(self, prefixes: Sequence[str]) -> list[str]:
        """`resolve_id` for each prefix, in order; full ids are found in one query (a read
        each cost ~10 us, 1,000 runs executed at once ask for 1,000)."""
        if len(prefixes) < 2:
            return [self.resolve_id(prefix) for prefix in prefixes]
        full = {row[0] for row in self._query("existing_runs", (_json_list(prefixes),))}
        return [prefix if prefix in full else self.resolve_id(prefix) for prefix in prefixes]

    def list_runs(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first."""
        if status is None:
            rows = self._query("list_runs", (limit,))
        else:
            rows = self._query("list_runs_by_status", (status, limit))
        return [RunSummary(*row) for row in rows]

    def unfinished(self) -> list[str]:
        """Runs still running or paused."""
        return [str(run_id) for (run_id,) in self._query("unfinished_runs", ())]

    # -- control requests ---------------------------------------------------

    def request(self, run_id: str, action: str, reason: str, at: float) -> int:
        """Queue a request for the worker that owns the run."""
        with self._transaction("write to"):
            cursor = self._db.execute(_Q["insert_request"], (run_id, action, reason, at))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def pending_requests(self) -> list[ControlRequest]:
        """Requests not yet carried out."""
        return [ControlRequest(*row) for row in self._query("pending_requests", ())]

    def mark_handled(self, request_ids: Sequence[int], at: float) -> None:
        """Record requests as carried out."""
        with self._transaction("write to"):
            self._db.executemany(_Q["mark_request_handled"], [(at, i) for i in request_ids])

    def is_handled(self, request_id: int) -> bool:
        """Whether the request was carried out."""
        rows = self._query("request_handled", (request_id,))
        return bool(rows) and rows[0][0] is not None

    # -- leases -------------------------------------------------------------

    def lease(self, run_id: str) -> Lease | None:
        """The run's lease, if one was ever taken and not released."""
        rows = self._query("get_lease", (run_id,))
        return Lease(*rows[0]) if rows else None

    def leases_of(self, run_ids: Sequence[str]) -> dict[str, Lease]:
        """The leases on these runs, read in one query."""
        if len(run_ids) == 1:
            lease = self.lease(run_ids[0])
            return {} if lease is None else {lease.run_id: lease}
        rows = self._query("get_leases", (_json_list(run_ids),))
        return {row[0]: Lease(*row) for row in rows}

    def take_leases(self, leases: Sequence[Lease], seen: Mapping[str, str | None]) -> list[str]:
        """Take leases whose holder is still the one the caller saw."""
        if len(leases) == 1:  # one statement, and its row count says if it was taken
            return self._take_lease(leases[0], seen.get(leases[0].run_id))
        wanted = [
            (
                lease.run_id,
                lease.owner,
                lease.host,
                lease.pid,
                lease.heartbeat_at,
                seen.get(lease.run_id),
            )
            for lease in leases
        ]
        owners = {lease.run_id: lease.owner for lease in leases}
        with self._transaction("write to", carried=True):
            self._db.execute(_Q["take_leases"], (_json_list(wanted),))
            # Which are the caller's now (RETURNING would say, but needs SQLite 3.35).
            held = self._db.execute(_Q["get_leases"], (_json_list(list(owners)),)).fetchall()
        taken = {row[0] for row in held if owners[row[0]] == row[1]}
        return [lease.run_id for lease in leases if lease.run_id in taken]

    def _take_lease(self, lease: Lease, seen: str | None) -> list[str]:
        with self._transaction("write to", carried=True):
            cursor = self._db.execute(
                _Q["take_lease"],
                {
                    "run_id": lease.run_id,
                    "owner": lease.owner,
                    "host": lease.host,
                    "pid": lease.pid,
                    "at": lease.heartbeat_at,
                    "seen": seen,
                },
            )
        return [lease.run_id] if cursor.rowcount else []

    def heartbeat(self, owner: str, at: float) -> None:
        """Renew the owner's leases."""
        with self._transaction("write to", carried=True):
            self._db.execute(_Q["heartbeat"], (at, owner))

    def release(self, run_ids: Sequence[str], owner: str) -> None:
        """Drop the owner's leases on these runs."""
        with self._transaction("write to", carried=True):
            self._db.executemany(_Q["release_lease"], [(r, owner) for r in run_ids])
            self._ends.forget(run_ids)  # another process may append to them next

    def close(self) -> None:
        """Close the connection, moving what this store wrote from the WAL into the file."""
        self._checkpointer.stop()
        if self._checkpointer.committed_since_start:
            # The last connection to close checkpoints anyway; another process may
            # keep the database open for long, so do not leave that to it.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self._db.close()

    # -- plumbing -----------------------------------------------------------

    def _migrate(self) -> None:
        pending = sql.migrations("sqlite")
        version, latest = self._version(), pending[-1][0]
        if version > latest:
            self._db.close()  # the store is unusable: leave no connection behind
            raise StoreError(
                f"{self.path} was written by a newer kflow (schema {version}, this one knows "
                f"{latest}); upgrade kflow to use it"
            )
        if version == latest:
            return
        # Two processes may open a new file at once: take the write lock, then look again.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()
            for number, script in pending:
                if number > version:
                    for statement in _statements(script):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number:d}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _enter_wal(self) -> str:
        # Switching a new file to WAL takes an exclusive lock and SQLite reports BUSY at
        # once, without waiting, when two processes race to do it: wait here instead.
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                return str(self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _writable(self) -> bool:
        return bool(self._db.execute("PRAGMA query_only").fetchone()[0] == 0)

    @contextmanager
    def _transaction(
        self, verb: str, *, carried: bool = False, stored_bytes: int = 0
    ) -> Iterator[None]:
        # One connection serves every thread of the process (an Engine may execute in
        # one thread while another pauses): a transaction holds the lock throughout.
        with self._lock:
            if self._lowered:  # a carried write could not restore FULL: none without it
                self._synchronous("FULL", verb)
            if not (carried and self.slow_commits):
                yield from self._locked_transaction(verb, stored_bytes)
                return
            # A carried write needs no fsync of its own, even in `full`: WAL commits
            # survive power loss in order, so the journal's next commit makes it durable
            # with it. A lease lost before that guarded no progress (its run is an
            # orphan again, as it was). Each takes one fsync (~0.5-1 ms) off a run's start.
            self._synchronous("NORMAL", verb)
            try:
                yield from self._locked_transaction(verb, stored_bytes)
            finally:
                self._synchronous("FULL", verb)

    def _synchronous(self, level: str, verb: str) -> None:
        try:
            self._db.execute(f"PRAGMA synchronous = {level}")
        except sqlite3.Error as exc:
            raise self._error(exc, verb) from exc
        self._lowered = level != "FULL"

    def _locked_transaction(self, verb: str, stored_bytes: int = 0) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc, verb) from exc
        try:
            yield
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise self._error(exc, verb) from exc
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._error(exc, verb) from exc
        self._checkpointer.committed(stored_bytes)

    def _query(self, name: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            with self._lock:
                return self._db.execute(_Q[name], params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from exc

    def _error(self, exc: Exception, verb: str) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = (
                "another program holds a lock on it for more than 5 s; close programs that "
                "keep it open in a transaction (e.g. an sqlite3 shell) and try again"
            )
        elif "readonly" in text or "read-only" in text:
            hint = "the file or its folder is read-only; fix the permissions or choose another --db"
        elif "UNIQUE constraint failed: journal" in text or "out of sequence" in text:
            hint = (
                "another process appended to the same run at the same moment; "
                "only one worker may execute a run, so check for a second `kflow` process"
            )
        elif "not a database" in text or "malformed" in text:
            hint = "the file is not a kflow database (or is damaged); choose another --db"
        elif "unable to open" in text:
            hint = "check that the path exists and is writable, or choose another --db"
        else:
            hint = "see the cause below"
        return StoreError(f"cannot {verb} the database {self.path}: {text}; {hint}")


_ROWS_PER_STATEMENT = 32
"""Most rows one INSERT appends: 4 parameters each, well within SQLite's limit (999
before 3.32), and no more distinct statements than the connection's cache keeps well."""


def _stored_bytes(rows: list[Row]) -> int:
    """The size of the rows' bodies: what the checkpointer counts a commit's pages by."""
    return sum(len(row[3]) for row in rows)


@functools.cache
def _rows_statement(count: int) -> str:
    """`append_batch` for `count` rows at once."""
    one = _Q["append_batch"]
    return one + ", (?, ?, ?, ?)" * (count - 1)


def _lease_row(lease: Lease) -> tuple[str, str, str, int, float]:
    return lease.run_id, lease.owner, lease.host, lease.pid, lease.heartbeat_at


def _finished(entries: Sequence[Entry]) -> list[str]:
    return [e.run_id for e in entries if type(e.event) in _TERMINAL]


def _projection(
    entries: Sequence[Entry],
) -> tuple[list[tuple[str, str, float, float]], list[tuple[str, float, str | None, str]]]:
    """The rows of `runs` that these entries add, and the status changes they make."""
    created, statuses = [], []
    for entry in entries:
        event = entry.event
        kind = type(event)
        if kind not in _PROJECTED:  # most events leave `runs` as it is
            continue
        if isinstance(event, ev.RunCreated):
            created.append((entry.run_id, event.workflow_id, event.at, event.at))
            continue
        error = event.error.message if isinstance(event, ev.RunFailed) else None
        if isinstance(event, ev.RunCancelled):
            error = event.reason or None
        statuses.append((_STATUS_OF[kind], event.at, error, entry.run_id))
    return created, statuses


def _json_list(values: Sequence[object]) -> str:
    """A list for a query to unpack with `json_each` (one parameter, however many)."""
    return msgspec.json.encode(list(values)).decode()


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3's own test for completeness)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
