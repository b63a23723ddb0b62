"""Group commit: events from every run in this process share one transaction per loop tick."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kflow.store.protocol import Entry, JournalStore

Callback = Callable[[], None]


class GroupCommit:
    """Buffers journal entries and commits them together at the end of the loop tick.

    Each appender may pass a callback that runs once its entry is durable; that is
    where the runtime lets dependents start, so no step ever acts on a result
    that a crash could still lose.
    """

    def __init__(self, store: JournalStore, on_error: Callable[[BaseException], None]) -> None:
        self.store = store
        self._on_error = on_error
        self._entries: list[Entry] = []
        self._callbacks: list[Callback] = []
        self._scheduled = False
        self.commits = 0
        """Transactions committed so far (for benchmarks and tests)."""

    def append(self, entry: Entry, on_commit: Callback | None = None) -> None:
        """Buffer an entry; it is committed with everything else appended in this tick."""
        self._entries.append(entry)
        if on_commit is not None:
            self._callbacks.append(on_commit)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Commit what is buffered now, then run the callbacks of what was committed."""
        self._scheduled = False
        entries, callbacks = self._entries, self._callbacks
        if not entries:
            return
        self._entries, self._callbacks = [], []
        try:
            self.store.append(entries)
        except BaseException as exc:  # the batch is rolled back; nothing half-written
            self._on_error(exc)
            return
        self.commits += 1
        failure: BaseException | None = None
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:  # keep the other runs' bookkeeping whole
                failure = failure or exc
        if failure is not None:
            self._on_error(failure)
