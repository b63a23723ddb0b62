"""The WAL is checkpointed by a thread of its own, never inside the event loop's commits."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kflow.engine import events as ev
from kflow.store import SqliteStore
from kflow.store.checkpointer import PAGES_PER_CHECKPOINT, pages_written
from tests.unit.store.test_contract import created, entry


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kflow-checkpoint")]


def _wait_for_a_checkpoint(path: Path, size_before: int) -> None:
    """Wait up to 10 s for the checkpoint thread to move pages into the database file."""
    deadline = time.monotonic() + 10
    while path.stat().st_size == size_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size > size_before, "no checkpoint moved the WAL into the file"


def test_the_writer_checkpoints_itself_only_as_a_backstop(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 10_000
        assert store._db.execute("PRAGMA journal_size_limit").fetchone()[0] > 0
    finally:
        store.close()


def test_pages_reach_the_database_file_while_the_store_stays_open(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SqliteStore(path)
    try:
        before = path.stat().st_size
        store.append([created("r1")])
        for seq in range(1, 3 * PAGES_PER_CHECKPOINT):
            event = ev.StepStarted(at=float(seq), step=f"s{seq}", attempt=1)
            store.append([entry("r1", seq, event)])
        assert _checkpoint_threads()
        _wait_for_a_checkpoint(path, before)
    finally:
        store.close()
    assert not _checkpoint_threads()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 3 * PAGES_PER_CHECKPOINT


def test_a_few_large_commits_are_checkpointed_by_the_thread_too(tmp_path: Path) -> None:
    # A thousand runs created at once, or a burst of results, stores hundreds of pages in
    # one commit. Counted by commits, 40 MB of them reached the writer's own backstop
    # checkpoint, which held the event loop for 150-200 ms.
    path = tmp_path / "j.db"
    store = SqliteStore(path)
    try:
        before = path.stat().st_size
        store.append([created("r1")])
        output = {"text": "x" * 100_000}  # ~25 pages a commit
        for seq in range(1, 60):
            event = ev.StepSucceeded(at=float(seq), step=f"s{seq}", attempt=1, output=output)
            store.append([entry("r1", seq, event)])
        assert _checkpoint_threads(), "no checkpoint thread after ~1,500 pages in 60 commits"
        _wait_for_a_checkpoint(path, before)
    finally:
        store.close()


def test_a_commit_counts_a_page_and_one_more_per_4_kib_it_stores() -> None:
    assert [pages_written(n) for n in (0, 4095, 4096, 100_000)] == [1, 1, 2, 25]


def test_a_store_that_commits_little_starts_no_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "j.db")
    try:
        store.append([created("r1")])
        assert not _checkpoint_threads()
    finally:
        store.close()


def test_closing_a_store_checkpoints_what_it_wrote_while_others_keep_the_file_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    watcher = SqliteStore(path)  # e.g. an application's long-lived Service
    try:
        before = path.stat().st_size
        writer = SqliteStore(path)
        writer.append([created("r1")])
        for seq in range(1, 50):
            event = ev.StepStarted(at=float(seq), step=f"s{seq}", attempt=1)
            writer.append([entry("r1", seq, event)])
        writer.close()
        assert path.stat().st_size > before
    finally:
        watcher.close()


def test_the_thread_finds_the_file_after_the_working_directory_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore(Path("j.db"))
    try:
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        store.append([created("r1")])
        for seq in range(1, 2 * PAGES_PER_CHECKPOINT):
            event = ev.StepStarted(at=float(seq), step=f"s{seq}", attempt=1)
            store.append([entry("r1", seq, event)])
    finally:
        store.close()
    assert not (tmp_path / "elsewhere" / "j.db").exists()
