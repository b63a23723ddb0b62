"""The disk's floor for one durable step: a raw SQLite INSERT + COMMIT of a ~200-byte row."""

from __future__ import annotations

import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

ROW_BYTES = 200
_SCHEMA = (
    "CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, "
    "at REAL NOT NULL, body BLOB NOT NULL, PRIMARY KEY (run_id, seq))"
)
_INSERT = "INSERT INTO events (run_id, seq, kind, at, body) VALUES (?, ?, ?, ?, ?)"
_RUN_ID = "0190f3a2b4c5d6e7f"
_KIND = "StepSucceeded"
_BODY = b"x" * (ROW_BYTES - len(_RUN_ID) - len(_KIND) - 16)  # seq and at: ~8 bytes each


@dataclass(frozen=True, slots=True)
class Baseline:
    """Milliseconds per row of raw commits, one row per commit and 100 rows per commit."""

    normal_ms: float
    full_ms: float
    normal_grouped_ms: float
    full_grouped_ms: float

    def commit_ms(self, durability: str) -> float:
        """The cost of one single-row commit at this durability ("normal" or "full")."""
        return self.full_ms if durability == "full" else self.normal_ms


def raw_commit_ms(
    directory: Path, synchronous: str, commits: int, rows_per_commit: int = 1
) -> float:
    """Milliseconds per row of `commits` transactions of `rows_per_commit` rows in a fresh file."""
    path = directory / f"raw-{synchronous.lower()}-{rows_per_commit}.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute(_SCHEMA)
        seq = 0

        def commit_once() -> None:
            nonlocal seq
            rows = [(_RUN_ID, seq + i, _KIND, time.time(), _BODY) for i in range(rows_per_commit)]
            seq += rows_per_commit
            db.execute("BEGIN IMMEDIATE")
            db.executemany(_INSERT, rows)
            db.execute("COMMIT")

        for _ in range(max(5, commits // 20)):  # warm up: the file grows, pages get cached
            commit_once()
        start = time.perf_counter()
        for _ in range(commits):
            commit_once()
        elapsed = time.perf_counter() - start
    finally:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return elapsed * 1000 / (commits * rows_per_commit)


def measure(directory: Path, repeat: int, quick: bool) -> Baseline:
    """The median over `repeat` fresh files of each raw-commit cost, on `directory`'s disk."""
    scale = 10 if quick else 1

    def median(synchronous: str, commits: int, rows: int = 1) -> float:
        return statistics.median(
            raw_commit_ms(directory, synchronous, max(commits // scale, 10), rows)
            for _ in range(repeat)
        )

    return Baseline(
        normal_ms=median("NORMAL", 2000),
        full_ms=median("FULL", 400),
        normal_grouped_ms=median("NORMAL", 200, 100),
        full_grouped_ms=median("FULL", 100, 100),
    )
