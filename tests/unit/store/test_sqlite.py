"""The SQLite store: schema, durability settings, and the errors a user can meet."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kflow.engine import events as ev
from kflow.errors import StoreError
from kflow.store import SqliteStore, sql
from kflow.store import sqlite as sqlite_store
from kflow.store.protocol import Lease
from tests.unit.store.test_contract import created, entry


def _schema(db: sqlite3.Connection) -> set[tuple[str, str]]:
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {(name, " ".join(text.split())) for name, text in rows}


def test_the_migrations_build_exactly_the_schema(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "migrated.db").close()
    fresh = sqlite3.connect(tmp_path / "schema.db")
    schema = Path(sql.__file__).parent / "sqlite" / "schema.sql"
    fresh.executescript(schema.read_text())
    migrated = sqlite3.connect(tmp_path / "migrated.db")
    assert _schema(migrated) == _schema(fresh)


def test_a_database_of_a_newer_kflow_is_refused_with_what_to_do(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "k.db").close()
    newer = sqlite3.connect(tmp_path / "k.db")
    newer.execute("PRAGMA user_version = 99")
    newer.close()
    with pytest.raises(StoreError, match=r"written by a newer kflow \(schema 99, .*upgrade kflow"):
        SqliteStore(tmp_path / "k.db")


def test_a_journal_of_the_first_schema_is_moved_into_batches(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    first = dict(sql.migrations("sqlite"))[1]
    old.executescript(first + "PRAGMA user_version = 1;")
    resumed = ev.RunResumed(at=2.0)
    for seq, event in ((0, created("r").event), (1, resumed)):
        row = ("r", seq, type(event).__struct_config__.tag, event.at, ev.encode(event))
        old.execute("INSERT INTO events (run_id, seq, kind, at, body) VALUES (?, ?, ?, ?, ?)", row)
    old.close()
    store = SqliteStore(path)
    try:
        assert store.read("r")[1:] == [resumed]
        store.append([entry("r", 2, ev.RunPaused(at=3.0))])
        assert len(store.read("r")) == 3
    finally:
        store.close()


def test_a_journal_of_the_third_schema_loses_its_trigger_and_keeps_its_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v3.db"
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in sql.migrations("sqlite"):
        if number <= 3:
            old.executescript(script + f"PRAGMA user_version = {number};")
    body = ev.encode(created("r").event)
    old.execute("INSERT INTO journal (run_id, seq, count, body) VALUES ('r', 0, 1, ?)", (body,))
    old.close()
    store = SqliteStore(path)
    try:
        triggers = store._db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert triggers.fetchall() == []
        with pytest.raises(StoreError, match="got event 2 where 1 was next"):
            store.append([entry("r", 2, ev.RunPaused(at=3.0))])  # the store checks instead
        store.append([entry("r", 1, ev.RunPaused(at=3.0))])
        assert len(store.read("r")) == 2
    finally:
        store.close()


def test_the_events_view_shows_one_row_per_event(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    started = ev.StepStarted(at=2.5, step="a", attempt=1)
    store.append([created("r"), entry("r", 1, started), entry("r", 2, ev.RunPaused(at=3.0))])
    rows = store._db.execute("SELECT seq, kind, at FROM events WHERE run_id = 'r' ORDER BY seq")
    assert rows.fetchall() == [
        (0, "run_created", 1.0),
        (1, "step_started", 2.5),
        (2, "run_paused", 3.0),
    ]
    store.close()


def test_a_second_writer_of_a_run_is_named_in_the_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store.append([created("r")])
    store.append([entry("r", 1, ev.RunPaused(at=3.0))])
    for seq in (1, 3):  # where another writer's row starts already; past the run's end
        with pytest.raises(
            StoreError,
            match=rf"out of sequence: run 'r' got event {seq} where 2 was next; "
            "another process appended",
        ):
            store.append([entry("r", seq, ev.RunResumed(at=4.0))])
    store.close()


def test_a_writer_with_a_stale_view_is_refused_by_the_journals_index(tmp_path: Path) -> None:
    # Two stores on one file, as two processes: each knows the run's end from its own
    # appends, and the first one's view goes stale when the second appends.
    first, second = SqliteStore(tmp_path / "k.db"), SqliteStore(tmp_path / "k.db")
    first.append([created("r"), entry("r", 1, ev.RunPaused(at=2.0))])
    assert len(second.read("r")) == 2
    second.append([entry("r", 2, ev.RunResumed(at=3.0)), entry("r", 3, ev.RunPaused(at=4.0))])
    with pytest.raises(StoreError, match="another process appended to the same run"):
        first.append([entry("r", 2, ev.RunResumed(at=5.0))])  # where the second's row starts
    assert len(first.read("r")) == 4  # what the second appended, and nothing of the first's
    first.append([entry("r", 4, ev.RunResumed(at=6.0))])  # from the end it read: accepted
    with pytest.raises(StoreError, match="another process appended to the same run"):
        second.append([entry("r", 4, ev.RunResumed(at=7.0))])  # stale now: its end is taken
    third = SqliteStore(tmp_path / "k.db")  # knows no end: reads it
    with pytest.raises(StoreError, match="got event 6 where 5 was next"):
        third.append([entry("r", 6, ev.RunResumed(at=8.0))])
    for store in (first, second, third):
        store.close()


def _started(step: str, at: float = 2.0) -> ev.StepStarted:
    return ev.StepStarted(at=at, step=step, attempt=1)


def _statements(store: SqliteStore, work: Callable[[], object]) -> list[str]:
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    work()
    store._db.set_trace_callback(None)
    return seen


def test_steps_of_known_runs_append_in_one_statement_its_own_transaction(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    store.append([created("r1"), created("r2")])

    def steps() -> None:
        store.append(
            [entry("r1", 1, _started("a")), entry("r2", 1, _started("b"))]
            + [entry("r1", 2, _started("c"))]
        )

    [statement] = _statements(store, steps)  # no BEGIN, no COMMIT
    assert "INSERT INTO journal" in statement and statement.count("x'") == 2  # r1's 2 share
    # The store knows the ends this reached: the next append is one statement too.
    [statement] = _statements(store, lambda: store.append([entry("r2", 2, _started("d"))]))
    assert "INSERT INTO journal" in statement
    other = SqliteStore(tmp_path / "k.db")  # committed: another connection reads it
    assert [type(e) for e in other.read("r1")] == [ev.RunCreated, ev.StepStarted, ev.StepStarted]
    assert len(other.read("r2")) == 3
    # A run made or ended, or too many rows for one statement: a transaction as before.
    assert "BEGIN IMMEDIATE" in _statements(
        store, lambda: store.append([entry("r1", 3, ev.RunPaused(at=3.0))])
    )
    store.close()
    other.close()


def test_too_many_rows_for_one_statement_take_a_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store.append([created("r1"), created("r2"), created("r3")])
    monkeypatch.setattr(sqlite_store, "_ROWS_PER_STATEMENT", 2)
    rows = [entry(r, 1, _started("a")) for r in ("r1", "r2", "r3")]
    assert "BEGIN IMMEDIATE" in _statements(store, lambda: store.append(rows))
    assert all(len(store.read(r)) == 2 for r in ("r1", "r2", "r3"))
    store.close()


def test_a_connection_below_its_level_or_in_a_transaction_takes_the_long_way(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    store.append([created("r")])
    store._synchronous("NORMAL", "test")  # as a carried lease write that could not restore
    statements = _statements(store, lambda: store.append([entry("r", 1, _started("a"))]))
    assert statements[:2] == ["PRAGMA synchronous = FULL", "BEGIN IMMEDIATE"]
    store._db.execute("BEGIN")  # left open somehow: the append must not join it quietly
    with pytest.raises(StoreError, match="cannot start a transaction within a transaction"):
        store.append([entry("r", 2, _started("b"))])
    store._db.execute("ROLLBACK")
    store.append([entry("r", 2, _started("b"))])  # its end read again: in sequence
    assert len(store.read("r")) == 3
    store.close()


def test_a_step_appended_by_a_writer_with_a_stale_view_is_refused_whole(
    tmp_path: Path,
) -> None:
    first, second = SqliteStore(tmp_path / "k.db"), SqliteStore(tmp_path / "k.db")
    first.append([created("r"), created("s")])
    assert len(second.read("r")) == 1 and len(second.read("s")) == 1  # ends known to both
    second.append([entry("r", 1, _started("a"))])
    with pytest.raises(StoreError, match="another process appended to the same run"):
        first.append([entry("s", 1, _started("b")), entry("r", 1, _started("c"))])
    assert len(first.read("s")) == 1  # nothing of the refused statement, s's row neither
    first.append([entry("s", 1, _started("b")), entry("r", 2, _started("c"))])
    steps = [e.step for e in first.read("r") if isinstance(e, ev.StepStarted)]
    assert steps == ["a", "c"]
    for store in (first, second):
        store.close()


def test_a_failed_commit_leaves_no_end_behind_for_the_next_append(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store.append([created("r")])
    with pytest.raises(StoreError):  # the second row fails (r2 exists): nothing is kept
        store.append([entry("r", 1, ev.RunPaused(at=2.0)), created("r")])
    assert len(store.read("r")) == 1
    store.append([entry("r", 1, ev.RunPaused(at=2.0))])
    assert len(store.read("r")) == 2
    store.close()


def test_the_journal_uses_wal_and_the_chosen_synchronous_level(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def synchronous_of_each_commit(store: SqliteStore, work: Callable[[], object]) -> list[str]:
    """Run `work`, tracing the store's statements: the synchronous level each transaction
    it committed ran at ("store" if left at the store's own)."""
    level, commits, open_transaction = "store", [], False

    def trace(statement: str) -> None:
        nonlocal level, open_transaction
        if statement.startswith("PRAGMA synchronous = "):
            level = "store" if statement.endswith("FULL") else statement.rsplit(" ", 1)[1]
        elif statement.startswith("BEGIN"):
            open_transaction = True
        elif statement in ("COMMIT", "ROLLBACK"):
            open_transaction = False
            if statement == "COMMIT":
                commits.append(level)
        elif "INSERT INTO journal" in statement and not open_transaction:
            commits.append(level)  # one statement, its own transaction

    store._db.set_trace_callback(trace)
    work()
    store._db.set_trace_callback(None)
    return commits


def test_in_full_only_the_journal_waits_for_the_disk_not_the_leases(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    store.append([created("r1"), created("r2"), created("r3")])
    owner = "me"

    def work() -> None:
        store.take_leases([Lease("r1", owner, "h", 1, 1.0)], {})
        store.take_leases([Lease(r, owner, "h", 1, 1.0) for r in ("r2", "r3")], {})
        store.append([entry("r1", 1, ev.RunPaused(at=2.0))])
        store.heartbeat(owner, 2.0)
        store.release(["r1", "r2", "r3"], owner)

    assert synchronous_of_each_commit(store, work) == [
        "NORMAL",
        "NORMAL",
        "store",
        "NORMAL",
        "NORMAL",
    ]
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    store.close()


def test_a_failed_lease_write_leaves_the_journal_at_full(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    store._db.execute("PRAGMA query_only = ON")  # every write now fails
    with pytest.raises(StoreError, match="cannot write to the database"):
        store.take_leases([Lease("r1", "me", "h", 1, 1.0)], {})
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    store._db.execute("PRAGMA query_only = OFF")
    store.close()


class _RefusesFullOnce:
    """A connection whose first `PRAGMA synchronous = FULL` fails (as inside a transaction)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.refused = db, False

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "PRAGMA synchronous = FULL" and not self.refused:
            self.refused = True
            raise sqlite3.OperationalError("Safety level may not be changed inside a transaction")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_lease_write_that_cannot_restore_full_stops_the_next_commit_short_of_it(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    store.append([created("r1")])
    db = store._db
    store._db = _RefusesFullOnce(db)  # type: ignore[assignment]
    with pytest.raises(StoreError, match="Safety level may not be changed"):
        store.take_leases([Lease("r1", "me", "h", 1, 1.0)], {})
    store._db = db
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # left at NORMAL
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    store.append([created("r2")])
    db.set_trace_callback(None)
    assert statements.index("PRAGMA synchronous = FULL") < statements.index("BEGIN IMMEDIATE")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    store.close()


def test_a_lease_write_on_a_closed_store_raises_a_store_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db", durability="full")
    store.close()
    with pytest.raises(StoreError, match="cannot write to the database"):
        store.heartbeat("me", 1.0)


def test_in_normal_leases_and_journal_share_one_level(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store.append([created("r1")])
    work = lambda: store.take_leases([Lease("r1", "me", "h", 1, 1.0)], {})  # noqa: E731
    assert synchronous_of_each_commit(store, work) == ["store"]
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.close()


def test_reopening_a_store_keeps_its_runs(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store.append([created("r"), entry("r", 1, ev.RunResumed(at=1.0))])
    store.close()
    assert len(SqliteStore(tmp_path / "k.db").read("r")) == 2


def test_a_missing_folder_is_reported_before_anything_is_created(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="the folder .*nowhere does not exist; create it"):
        SqliteStore(tmp_path / "nowhere" / "k.db")


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a kflow database"):
        SqliteStore(path)


def test_a_locked_database_names_the_cause_and_the_remedy(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store._db.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="is locked.*another program holds a lock"):
            store.request("r", "pause", "", 1.0)
    finally:
        other.execute("ROLLBACK")
    assert store.pending_requests() == []
    store.close()


def test_queries_are_all_named_and_loaded_from_the_sql_file() -> None:
    queries = sql.queries("sqlite")
    assert {"append_batch", "run_events", "take_lease", "take_leases"} <= queries.keys()
    verbs = ("SELECT", "INSERT", "UPDATE", "DELETE")
    assert all(any(verb in text for verb in verbs) for text in queries.values())
    with pytest.raises(ValueError, match="the query 'q' is defined twice"):
        sql.parse_queries("-- name: q\nSELECT 1\n-- name: q\nSELECT 2\n")


def _open_each(paths: list[str], barrier: Any, errors: Any) -> None:
    for path in paths:
        barrier.wait()
        try:
            SqliteStore(path).close()
        except StoreError as exc:
            errors.put(str(exc))


def test_many_processes_opening_new_files_at_once_all_succeed(tmp_path: Path) -> None:
    # The processes meet at a barrier before each new file, so they race on every one
    # (SQLite refuses a concurrent switch to WAL without waiting; the store must wait).
    context = multiprocessing.get_context("fork")
    barrier, errors = context.Barrier(4), context.Queue()
    paths = [str(tmp_path / f"new-{i}.db") for i in range(30)]
    procs = [context.Process(target=_open_each, args=(paths, barrier, errors)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0] * 4
    assert errors.empty(), errors.get()
    for path in paths:
        store = SqliteStore(path)
        assert store._version() == sql.migrations("sqlite")[-1][0]
        store.close()
