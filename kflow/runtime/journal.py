"""Group commit: events from every run in this process share one transaction per loop tick."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kflow.actions.placement import thread_work
from kflow.runtime.loop import quiet_for
from kflow.store.protocol import Entry, JournalStore, Lease

Callback = Callable[[Entry], None]
"""Runs once its entries are durable: once per commit, with the last entry appended with
it there (an appender's entries commit in the order they were appended). Callbacks are
told apart by identity."""
Committed = Callable[[list[Entry]], None]
"""Told of every entry of a commit, in order, before the commit's callbacks run."""


@dataclass
class _NewRuns:
    """What runs stored with a batch bring along (see `GroupCommit.add_runs`)."""

    definitions: dict[str, bytes] = field(default_factory=dict)
    """Workflow specs by digest."""
    leases: list[Lease] = field(default_factory=list)


LAZY_SECONDS = 0.002
"""How long an entry that nothing waits for may stay in the buffer (see `append`)."""
_SMOOTHING = 0.2
"""Weight of the newest commit's duration in the running estimate."""


class _Writers:
    """Each store's writer thread, shared by every `GroupCommit` on it.

    Starting a thread costs ~0.3-0.5 ms of a run's start, a worker's every time; and
    the store takes one transaction at a time anyway, so one thread serves them all.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every writer (a forked child has no threads; the lock may be held)."""
        self._lock = threading.Lock()
        self._of: weakref.WeakKeyDictionary[JournalStore, concurrent.futures.ThreadPoolExecutor]
        self._of = weakref.WeakKeyDictionary()

    def of(self, store: JournalStore) -> tuple[concurrent.futures.ThreadPoolExecutor, bool]:
        """The store's writer thread, made on first use and kept while the store lives, and
        True; or, for a store that cannot be a weak key, a writer of the caller's own and
        False (the caller shuts it down)."""
        with self._lock:  # workers in two threads must not make two
            try:
                writer = self._of.get(store)
            except TypeError:  # unhashable (a dataclass with eq), or no weak references
                return _new_writer(), False
            if writer is None:
                writer = self._of[store] = _new_writer()
                weakref.finalize(store, writer.shutdown, wait=False)
            return writer, True


def _new_writer() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kflow-commit")


_writers = _Writers()
os.register_at_fork(after_in_child=_writers.reset)


class GroupCommit:
    """Buffers journal entries and commits them together at the end of the loop tick.

    Each appender may pass a callback that runs once its entries are durable (once per
    commit, with the last of them); that is where the runtime lets dependents start, so
    no step ever acts on a result that a crash could still lose. `on_commit` is told of
    every entry of each commit (the worker's observers).

    With `in_thread`, commits run in a writer thread of their own and the loop goes on
    meanwhile; what is appended during a commit forms the next one. That pays when a
    commit waits for the disk (an fsync: durability `full`); a quick commit is cheaper
    made in place than handed to a thread. So is a slow one that someone waits for
    while no timer falls due before it would end (kflow's loop knows, `loop.quiet_for`):
    handing it over and back wakes two idle CPUs, ~1 ms here, and each link of a chain
    waits for that. I/O that comes in meanwhile waits for the commit, as it always does
    in `normal`; commits that nobody waits for stay in the thread.
    """

    def __init__(
        self,
        store: JournalStore,
        on_error: Callable[[BaseException], None],
        *,
        in_thread: bool = False,
        on_commit: Committed | None = None,
    ) -> None:
        self.store = store
        self._on_error = on_error
        self._on_commit = on_commit
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._shared_writer = True
        if in_thread:
            self._writer, self._shared_writer = _writers.of(store)
        self._in_flight: concurrent.futures.Future[None] | None = None
        self._in_flight_batch: tuple[list[Entry], list[Callback | None]] = ([], [])
        self._entries: list[Entry] = []
        self._callbacks: list[Callback | None] = []
        """One per entry, at the entry's index (None: nobody waits for that entry)."""
        self._new_runs: _NewRuns | None = None
        """What the runs among the buffered entries bring along (see `add_runs`)."""
        self._scheduled = False
        self._awaited = False
        """Someone waits for what is buffered: an entry appended at once, or `hurry`."""
        self._broken = False
        """A commit failed and was rolled back: nothing appended after it is stored (it
        would not follow on from what is), and the worker stops."""
        self._lazy: asyncio.TimerHandle | None = None
        self._started = False
        """A step started since the last commit (its action has not run yet)."""
        self.commits = 0
        """Transactions committed so far (for benchmarks and tests)."""
        self.commit_seconds = 0.002
        """How long a commit takes, a running estimate (made by whichever thread commits)."""
        self._bound_loop: asyncio.AbstractEventLoop | None = None

    def _loop(self) -> asyncio.AbstractEventLoop:
        # The loop of the first append, kept: asking asyncio costs ~0.3 us, twice a step.
        loop = self._bound_loop
        if loop is None:
            loop = self._bound_loop = asyncio.get_running_loop()
        return loop

    def append(
        self,
        entry: Entry,
        on_commit: Callback | None = None,
        *,
        lazy: bool = False,
        starts_attempt: bool = False,
    ) -> None:
        """Buffer an entry; it is committed with everything else appended in this tick.

        A `lazy` entry, one that nothing waits for yet, may wait up to `LAZY_SECONDS`
        to share a later commit: a step starting (which halves the commits of a chain of
        quick steps), or a result no free slot waits for (`hurry` commits at once when
        one does). A crash before that commit loses the record of the attempt or of its
        result: the step runs again on recovery, as if it had been running.
        """
        self._entries.append(entry)
        self._callbacks.append(on_commit)
        if starts_attempt:
            self._started = True
        if not lazy:
            self._awaited = True
            if not self._scheduled:
                self._scheduled = True
                self._loop().call_soon(self._flush_in_turn)
        elif not self._scheduled and self._lazy is None:
            self._lazy = self._loop().call_later(LAZY_SECONDS, self._lazy_due)

    def add_runs(
        self,
        created: Sequence[Entry],
        definitions: Mapping[str, bytes],
        leases: Sequence[Lease] = (),
    ) -> None:
        """Buffer the first entries of runs not stored yet, the specs they refer to and
        their leases.

        They commit with whatever is appended until the next commit, in this tick at the
        latest. `Worker.adopt` appends the runs' first starts, then commits at once
        (`flush_now`), so that no action of theirs runs before they are stored.
        """
        new = self._new_runs = self._new_runs or _NewRuns()
        new.definitions.update(definitions)
        new.leases += leases
        self._entries += created
        self._callbacks += [None] * len(created)
        self._awaited = True
        self._flush_soon()

    def hurry(self) -> None:
        """Commit what is buffered in this tick, lazy entries too (someone waits now)."""
        if self._entries:
            self._awaited = True
            self._flush_soon()

    def _flush_soon(self) -> None:
        if self._entries and not self._scheduled:
            self._scheduled = True
            self._loop().call_soon(self._flush_in_turn)

    def _flush_in_turn(self, turned: bool = False) -> None:
        # A step started in this tick (in a slot a result has just freed) has its first
        # step queued behind this flush: let its action begin before the commit blocks
        # the loop, by waiting one turn (once). A step run as a timer has nothing queued,
        # but the wait still pays on a busy loop: results finishing next turn share the
        # commit. Starts made by the commit's own callbacks do not count.
        if self._started and not turned:
            self._loop().call_soon(self._flush_in_turn, True)
            return
        self.flush()

    def _lazy_due(self) -> None:
        # Commit in the next turn, not now: a timer armed before the last commit can fall
        # due while that commit's callbacks queue new attempts, and the starts they append
        # would commit alone, just before the attempts' results could have shared it.
        self._lazy = None
        self._flush_soon()

    def flush(self) -> None:
        """Commit what is buffered now, then run the callbacks of what was committed.

        In a writer thread, the commit is started and this returns at once; its
        callbacks run on the loop when it lands, and the next batch starts then.
        """
        # A pending lazy timer is left alone: firing on an empty buffer costs less
        # than cancelling and re-arming one timer per step.
        self._scheduled = False
        if not self._entries or self._in_flight is not None or self._broken:
            return  # a batch in flight flushes again when it lands
        awaited = self._awaited
        entries, callbacks, new_runs = self._take()
        loop = self._loop()
        if self._writer is None or (
            awaited and quiet_for(loop, ignoring=self._lazy) > 2 * self.commit_seconds
        ):
            self._commit_here(entries, callbacks, new_runs)
            return
        future = self._writer.submit(self._append_in_writer, entries, new_runs)
        self._in_flight, self._in_flight_batch = future, (entries, callbacks)

        def land(done: concurrent.futures.Future[None]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(self._landed, done)

        future.add_done_callback(land)

    def _append_in_writer(self, entries: list[Entry], new_runs: _NewRuns | None) -> None:
        thread_work.begin()  # it may hold the GIL while a call runs on the loop
        try:
            self._append(entries, new_runs)
        finally:
            thread_work.end()

    def _append(self, entries: list[Entry], new_runs: _NewRuns | None) -> None:
        began = time.perf_counter()
        if new_runs is None:
            self.store.append(entries)
        else:
            self.store.append(entries, new_runs.definitions or None, new_runs.leases)
        if self._writer is None:  # no choice of thread to make: nothing to time
            return
        took = time.perf_counter() - began
        self.commit_seconds += (took - self.commit_seconds) * _SMOOTHING

    def flush_now(self) -> None:
        """Commit everything appended so far before returning (blocking the loop)."""
        if self._in_flight is not None:
            concurrent.futures.wait([self._in_flight])
            self._landed(self._in_flight)
        self._scheduled = False
        if self._entries and not self._broken:
            self._commit_here(*self._take())

    def close(self) -> None:
        """Wait for a commit still in the writer thread (`flush_now` is skipped after a
        failure); the thread itself stays for the store's next worker, if it is shared."""
        if self._in_flight is not None:
            concurrent.futures.wait([self._in_flight])
        if self._writer is not None and not self._shared_writer:
            self._writer.shutdown(wait=False)
            self._writer = None  # anything appended after this commits in place

    def _commit_here(
        self, entries: list[Entry], callbacks: list[Callback | None], new_runs: _NewRuns | None
    ) -> None:
        try:
            self._append(entries, new_runs)
        except BaseException as exc:  # the batch is rolled back; nothing half-written
            self._broken = True
            self._on_error(exc)
            return
        self._committed(entries, callbacks)

    def _take(self) -> tuple[list[Entry], list[Callback | None], _NewRuns | None]:
        taken = self._entries, self._callbacks, self._new_runs
        self._entries, self._callbacks, self._awaited, self._new_runs = [], [], False, None
        return taken

    def _landed(self, future: concurrent.futures.Future[None]) -> None:
        if future is not self._in_flight:
            return  # already landed by `flush_now`
        self._in_flight, (entries, callbacks) = None, self._in_flight_batch
        self._in_flight_batch = ([], [])
        error = future.exception()
        if error is not None:  # the batch is rolled back; nothing half-written
            self._broken = True
            self._on_error(error)
            return
        self._committed(entries, callbacks)
        if self._entries and not self._scheduled:
            self._scheduled = True
            self._loop().call_soon(self.flush)

    def _committed(self, entries: list[Entry], callbacks: list[Callback | None]) -> None:
        self.commits += 1
        failure: BaseException | None = None
        if self._on_commit is not None:
            try:
                self._on_commit(entries)
            except Exception as exc:
                failure = exc
        # Each callback once, with its last entry: a run appends two entries a step, and a
        # call per entry was a fifth of the journal's cost per step. Built in C, keyed by
        # identity: later entries overwrite earlier ones; the order is each callback's first.
        pairs = zip(callbacks, entries, strict=True)
        last = dict(zip(map(id, callbacks), pairs, strict=True))
        last.pop(id(None), None)
        for callback, entry in last.values():
            assert callback is not None
            try:
                callback(entry)
            except Exception as exc:  # keep the other runs' bookkeeping whole
                failure = failure or exc
        self._started = False
        if failure is not None:
            self._on_error(failure)
