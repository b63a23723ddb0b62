"""A worker executes runs in this process: drivers, group commit, leases, control requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.engine.state import RunStatus
from kflow.errors import RunStateError, StoreError
from kflow.runtime import freeze
from kflow.runtime.definitions import Definitions
from kflow.runtime.driver import RunDriver
from kflow.runtime.journal import GroupCommit
from kflow.runtime.leases import HEARTBEAT_SECONDS, Owner, is_live
from kflow.runtime.stall import stall_watch
from kflow.store.protocol import Entry, JournalStore

_log = logging.getLogger(__name__)

Observer = Callable[[RunMachine, ev.AnyEvent], None]
"""Told of each event of a run once it is committed (see `Worker.observe`)."""

CONTROL_POLL_SECONDS = 0.2
"""How often the worker looks for pause/resume/cancel requests from other processes."""


class Worker:
    """Executes runs until they end; use as `async with Worker(store) as worker:`."""

    def __init__(
        self,
        store: JournalStore,
        definitions: Definitions | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.store = store
        self.owner = Owner.here()
        self.definitions = definitions or Definitions(store.definition)
        self.drivers: dict[str, RunDriver] = {}
        self._released: set[str] = set()
        """Runs whose leases `wait` has already given back."""
        self._observers = list(observers)
        self._journal = GroupCommit(
            store, self._fatal, in_thread=store.slow_commits, on_commit=self._notify
        )
        self._failure: BaseException | None = None
        self._background: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Worker:
        loop = asyncio.get_running_loop()
        self._failed: asyncio.Future[None] = loop.create_future()
        self._ticks = stall_watch.watch()
        self._background = loop.create_task(self._housekeeping())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._stop()
        finally:
            stall_watch.unwatch(self._ticks)  # no ticks from here on: not a stall
            self._ticks = None

    async def _stop(self) -> None:
        for driver in self.drivers.values():
            driver.stop()
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        if self._failure is None:
            self._journal.flush_now()
            held = [run_id for run_id in self.drivers if run_id not in self._released]
            if held:  # a transaction less after the usual `wait` (~2 ms for 1,000 runs)
                self._release(held)
        # After a store failure another write would only wait out the busy timeout again;
        # the leases left behind point at this process, which is about to exit.
        self._journal.close()
        freeze.thaw(self)

    @property
    def commits(self) -> int:
        """Transactions this worker has committed."""
        return self._journal.commits

    def observe(self, observer: Observer) -> None:
        """Call `observer(machine, event)` for every event once it is committed."""
        self._observers.append(observer)

    # -- taking runs ------------------------------------------------------

    def adopt(
        self,
        run_ids: Sequence[str],
        created: Sequence[Entry] = (),
        definitions: Mapping[str, bytes] | None = None,
    ) -> list[RunDriver]:
        """Take over runs from the store and start driving them.

        A run left running by a process that died gets `RunRecovered`: its
        interrupted attempts run again, finished steps are never repeated. `created`
        are the first entries of runs this process has just made and not stored yet,
        with the specs they refer to (`definitions`, by digest): they commit with those
        runs' first starts and their leases, in one transaction, before any action runs.
        """
        if created and definitions is None:
            raise ValueError("runs created here need the definitions they refer to")
        now = time.time()
        # Decoded, not the event itself: a run must see its inputs as a replay will (a
        # tuple as a list, a date as a string), and never share the caller's objects.
        new = {entry.run_id: [ev.decode(entry.body)] for entry in created}
        old = [run_id for run_id in run_ids if run_id not in new]
        leases = self.store.leases_of(old) if old else {}
        previous = {run_id: leases.get(run_id) for run_id in run_ids}
        for run_id, lease in previous.items():
            if lease is not None and lease.owner != self.owner.id and is_live(lease, now):
                raise RunStateError(
                    f"run '{run_id}' is being executed by process {lease.pid} on {lease.host}; "
                    "control it with `kflow pause|resume|cancel`, or wait for it to finish"
                )
        seen = {run_id: lease.owner if lease else None for run_id, lease in previous.items()}
        # A run made here takes its lease in the transaction that stores it (nobody else
        # knows its id yet): one transaction less before its first step.
        taken = self.store.take_leases([self.owner.lease(r, now) for r in old], seen) if old else []
        if len(taken) < len(old):
            self.store.release(taken, self.owner.id)
            lost = sorted(set(old) - set(taken))
            raise RunStateError(
                f"another worker took run {', '.join(map(repr, lost))} at the same moment; "
                "it is executing it now"
            )
        self._released.difference_update(run_ids)
        adopted = []
        # Plans and run states live as long as their runs: keep the garbage collector
        # from scanning them again and again (see `kflow.runtime.freeze`).
        with freeze.collection_paused():
            journals = (self.store.read_runs(old) if old else {}) | new
            for run_id in run_ids:
                lease = previous[run_id]
                orphaned = lease is not None and lease.owner != self.owner.id
                adopted.append(self._drive(run_id, journals[run_id], orphaned))
            freeze.freeze(self)
        if created:  # first in the journal: a run's other entries follow its creation
            at = time.time()  # adopting many runs takes a while: the lease starts now
            new_leases = [self.owner.lease(entry.run_id, at) for entry in created]
            self._journal.add_runs(created, definitions or {}, new_leases)
        for driver in adopted:
            driver.pump()
        # The first starts commit now, before the actions run, rather than lazily with
        # the first results, when one run is adopted (`kflow run`, `Service.run`): the
        # run shows as started ~1 ms sooner for one small commit. A batch of runs waits
        # to share that commit (an early one cost 1,000 runs x 5 ~5%), except in `full`,
        # where the first results' fsync is long to wait for, and runs not stored yet,
        # which must be before any of their actions runs. On the loop, not in the
        # writer thread: that one would wait for the GIL behind the first actions.
        if len(adopted) == 1 or self.store.slow_commits or created:
            self._journal.flush_now()
        return adopted

    def _drive(self, run_id: str, events: list[ev.AnyEvent], orphaned: bool) -> RunDriver:
        machine = self.definitions.machine(events)
        created = events[0]
        assert isinstance(created, ev.RunCreated)
        resolver = self.definitions.resolver(created)
        driver = RunDriver(machine, self._journal, resolver)
        self.drivers[run_id] = driver
        # Attempts recorded as running belong to a worker that is gone: they
        # must be queued again, and a left-behind lease means a crash to record.
        interrupted = machine.state.running > 0 or orphaned
        if interrupted and not machine.state.status.finished:
            driver.record(ev.RunRecovered(at=time.time(), owner=self.owner.id))
        elif machine.state.status.finished and not driver.done.done():
            driver.done.set_result(machine.state.status)
        return driver

    async def wait(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        """Wait until these runs have ended; returns each one's final status."""
        if self._failure is not None:
            raise self._failure
        finished = asyncio.ensure_future(_all([self.drivers[r].done for r in run_ids]))
        await asyncio.wait({finished, self._failed}, return_when=asyncio.FIRST_COMPLETED)
        if self._failure is not None:
            finished.cancel()
            raise self._failure
        self._release(list(run_ids))
        return {r: self.drivers[r].machine.state.status for r in run_ids}

    def _release(self, run_ids: list[str]) -> None:
        with contextlib.suppress(StoreError):
            self.store.release(run_ids, self.owner.id)
            self._released.update(run_ids)

    # -- events, failures, housekeeping -------------------------------------

    def _notify(self, entries: list[Entry]) -> None:
        """Tell the observers of a commit's events, in the journal's order (a run's
        creation aside: nothing has driven it yet)."""
        if not self._observers:  # the usual case, once per commit: no copy to make
            return
        for entry in entries:
            driver = self.drivers.get(entry.run_id)
            if driver is not None and type(entry.event) is not ev.RunCreated:
                self._tell(driver.machine, entry.event)

    def _tell(self, machine: RunMachine, event: ev.AnyEvent) -> None:
        for observer in list(self._observers):
            try:
                observer(machine, event)
            except Exception as exc:
                # A broken observer (say, progress printed into a closed pipe) must
                # not stop the runs: drop it and say so once.
                self._observers.remove(observer)
                _log.warning(
                    "stopped calling observer %r after it raised %s: %s",
                    observer,
                    type(exc).__name__,
                    exc,
                    extra={"action": "observer_dropped"},
                )

    def _fatal(self, exc: BaseException) -> None:
        self._failure = exc
        for driver in self.drivers.values():
            driver.stop()
        if not self._failed.done():
            self._failed.set_result(None)

    async def _housekeeping(self) -> None:
        last_beat = time.time()
        while True:
            await asyncio.sleep(CONTROL_POLL_SECONDS)
            try:
                self._handle_requests()
                if time.time() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.time()
                    self.store.heartbeat(self.owner.id, last_beat)
            except StoreError:
                continue  # the database is busy: try again at the next tick

    def _handle_requests(self) -> None:
        handled = []
        for request in self.store.pending_requests():
            driver = self.drivers.get(request.run_id)
            if driver is None:
                continue  # another worker's run
            now = time.time()
            state = driver.machine.state
            # A request for a run that has just ended is answered by leaving it as it is.
            if state.status.finished:
                pass
            elif request.action == "cancel":
                driver.record(ev.RunCancelled(at=now, reason=request.reason))
            elif request.action == "pause" and state.status is RunStatus.RUNNING:
                driver.record(ev.RunPaused(at=now, reason=request.reason))
            elif request.action == "resume" and state.status is RunStatus.PAUSED:
                driver.record(ev.RunResumed(at=now))
            handled.append(request.id)
        if handled:
            self._journal.flush_now()
            if self._failure is None:  # only once what they asked for is durable
                self.store.mark_handled(handled, time.time())


async def _all(futures: Sequence[asyncio.Future[RunStatus]]) -> None:
    for future in futures:
        await future
