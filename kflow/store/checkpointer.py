"""Moves the WAL's pages into the SQLite file from a thread of its own.

SQLite's automatic checkpoint runs inside the commit that fills the WAL to 1,000 pages,
and a checkpoint ends with an fsync of the database file: with a commit every step, the
committing thread (the event loop) would stall for 5-150 ms every tenth of a second.
Here the writer never checkpoints; this thread does it, in `PASSIVE` mode, which neither
waits for nor blocks writers and readers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path

_log = logging.getLogger(__name__)

PAGES_PER_CHECKPOINT = 1000
"""How many pages may be written to the WAL before it is checkpointed: SQLite's own 1,000.
Pages are estimated (`pages_written`): a commit counts one, and one more per 4 KiB it
stores. Checkpointing more often costs fsyncs that durability `full`'s commits then wait
behind."""
PAGE_BYTES = 4096


def pages_written(stored_bytes: int) -> int:
    """A commit's pages as the checkpointer counts them: one, and one per 4 KiB stored.

    A commit of a few events still writes a page or more; one of thousands (a thousand
    runs created at once, a burst of results) writes hundreds. Counting commits alone let
    such bursts fill the WAL to the writer's own backstop checkpoint, which held the event
    loop for 150-200 ms.
    """
    return 1 + stored_bytes // PAGE_BYTES


_LIVE: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


class Checkpointer:
    """A daemon thread that checkpoints the WAL after every `PAGES_PER_CHECKPOINT` pages."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self._path = path.resolve()  # the thread must find the file after a chdir too
        self._busy_timeout_ms = busy_timeout_ms
        self._pages = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        _LIVE.add(self)

    @property
    def committed_since_start(self) -> bool:
        """Whether this store has committed anything (a checkpoint on close is then due)."""
        return self._pages > 0 or self._thread is not None

    def committed(self, stored_bytes: int = 0) -> None:
        """Count a commit that stored `stored_bytes`; wake the thread once enough pages
        have been written since it last woke."""
        self._pages += pages_written(stored_bytes)
        if self._pages < PAGES_PER_CHECKPOINT:
            return
        self._pages = 0
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name=f"kflow-checkpoint {self._path.name}", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Finish the checkpoint under way, if any, and end the thread."""
        if self._thread is None or self._thread is threading.current_thread():
            return
        self._stopping = True
        self._wake.set()
        self._thread.join()
        self._thread = None

    def _forget_thread(self) -> None:
        # In a forked child the thread does not exist; a new one starts when needed.
        self._thread, self._wake, self._pages = None, threading.Event(), 0

    def _work(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms:d}")
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    # A later checkpoint, or the one on close, moves the pages instead.
                    _log.debug("WAL checkpoint of %s skipped: %s", self._path, exc)
        finally:
            with contextlib.suppress(sqlite3.Error):
                db.close()


def _after_fork_in_child() -> None:
    for checkpointer in list(_LIVE):
        checkpointer._forget_thread()


os.register_at_fork(after_in_child=_after_fork_in_child)
