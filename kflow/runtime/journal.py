"""Group commit: events from every run in this process share one transaction per loop tick."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kflow.store.protocol import Entry, JournalStore

Callback = Callable[[], None]

LAZY_SECONDS = 0.002
"""How long an entry that nothing waits for may stay in the buffer (see `append`)."""


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
        self._lazy: asyncio.TimerHandle | None = None
        self._started = False
        """A step started since the last commit (its action has not run yet)."""
        self.commits = 0
        """Transactions committed so far (for benchmarks and tests)."""

    def append(
        self, entry: Entry, on_commit: Callback | None = None, *, lazy: bool = False
    ) -> None:
        """Buffer an entry; it is committed with everything else appended in this tick.

        A `lazy` entry (a step starting: nothing waits for it) may wait up to
        `LAZY_SECONDS` to share the commit of the step's result, which halves the
        commits of a chain of quick steps. A crash before that commit only loses
        the record of an attempt that had not finished anyway.
        """
        self._entries.append(entry)
        if on_commit is not None:
            self._callbacks.append(on_commit)
        self._started = self._started or lazy
        if self._scheduled:
            return
        loop = asyncio.get_running_loop()
        if not lazy:
            self._scheduled = True
            loop.call_soon(self._flush_in_turn)
        elif self._lazy is None:
            self._lazy = loop.call_later(LAZY_SECONDS, self._lazy_due)

    def _flush_in_turn(self, waited: bool = False) -> None:
        # A step started in this tick (in a slot a result has just freed) has its first
        # step queued behind this flush: let its action begin before the commit blocks
        # the loop, by waiting one turn (once). Starts made by the commit's own
        # callbacks do not count: nothing is queued behind those.
        if self._started and not waited:
            asyncio.get_running_loop().call_soon(self._flush_in_turn, True)
            return
        self.flush()

    def _lazy_due(self) -> None:
        self._lazy = None
        self.flush()

    def flush(self) -> None:
        """Commit what is buffered now, then run the callbacks of what was committed."""
        # A pending lazy timer is left alone: firing on an empty buffer costs less
        # than cancelling and re-arming one timer per step.
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
        self._started = False
        if failure is not None:
            self._on_error(failure)
