"""Group commit: one transaction per tick, callbacks after the commit, a writer thread for slow disks."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import pytest

from kflow.actions.placement import thread_work
from kflow.engine import events as ev
from kflow.runtime import journal as journal_module
from kflow.runtime import loop
from kflow.runtime.journal import GroupCommit
from kflow.store import Entry, MemoryStore
from kflow.store.protocol import Lease
from tests.unit.store.test_contract import created, entry


class SlowDisk(MemoryStore):
    """A store whose commits take `seconds` (an fsync), noting the thread that made them."""

    slow_commits = True

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.threads: set[str] = set()
        self.writers: set[threading.Thread] = set()
        """The threads themselves, kept: an ended thread's ident may be reused."""

    def append(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(self.seconds)
        self.threads.add(threading.current_thread().name)
        self.writers.add(threading.current_thread())
        super().append(*args, **kwargs)


def _unexpected(error: BaseException) -> None:
    raise AssertionError(f"no commit should fail here: {error!r}")


async def _with_a_run(store: SlowDisk) -> GroupCommit:
    """A journal with a writer thread on `store`, run 'r' created in it, and the store's
    record of committing threads cleared."""
    journal = GroupCommit(store, _unexpected, in_thread=True)
    done = asyncio.get_running_loop().create_future()
    journal.append(created("r"), lambda _: done.set_result(None))
    await done
    store.threads.clear()
    return journal


def _started(seq: int) -> Entry:
    return entry("r", seq, ev.StepStarted(at=float(seq), step=f"s{seq}", attempt=1))


def test_entries_of_one_tick_share_a_commit_and_callbacks_follow_it() -> None:
    store = MemoryStore()

    async def scenario() -> list[str]:
        seen: list[str] = []
        journal = GroupCommit(store, _unexpected)
        journal.append(created("r"), lambda _: seen.append(f"created, {len(store.batches)} commit"))
        journal.append(_started(1), lambda _: seen.append("started"))
        assert store.batches == []  # nothing is committed inside the tick
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return seen

    assert asyncio.run(scenario()) == ["created, 1 commit", "started"]
    assert store.batches == [2]


def test_a_callback_runs_once_per_commit_with_the_last_of_its_entries() -> None:
    store = MemoryStore()

    async def scenario() -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []

        def of(name: str) -> journal_module.Callback:
            return lambda e: seen.append((name, e.seq))

        journal = GroupCommit(store, _unexpected)
        first, second = of("first"), of("second")
        journal.append(created("r"))
        journal.append(created("other"))
        journal.append(_started(1), first)
        journal.append(entry("other", 1, ev.StepStarted(at=1.0, step="x", attempt=1)), second)
        journal.append(_started(2), first)
        journal.append(_started(3), first)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        journal.append(_started(4), first)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return seen

    # In the order of each callback's first entry; the second commit calls `first` again.
    assert asyncio.run(scenario()) == [("first", 3), ("second", 1), ("first", 4)]
    assert store.batches == [6, 1]


def test_on_commit_is_told_of_every_entry_in_order_before_the_callbacks_run() -> None:
    store = MemoryStore()
    told: list[str] = []

    class Unhashable:  # callbacks are told apart by identity, not by hash or equality
        __hash__ = None  # type: ignore[assignment]

        def __init__(self, name: str) -> None:
            self.name = name

        def __eq__(self, other: object) -> bool:
            return True

        def __call__(self, e: Entry) -> None:
            told.append(f"{self.name} {e.seq}")

    async def scenario() -> None:
        journal = GroupCommit(
            store,
            _unexpected,
            on_commit=lambda es: told.append(" ".join(map(str, (e.seq for e in es)))),
        )
        journal.append(created("r"))
        first, second = Unhashable("first"), Unhashable("second")
        journal.append(_started(1), first)
        journal.append(_started(2), second)
        journal.append(_started(3), first)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert told == ["0 1 2 3", "first 3", "second 2"]


def test_a_writer_thread_commits_while_the_loop_goes_on() -> None:
    store = SlowDisk(0.05)

    async def scenario() -> tuple[int, int]:
        journal = GroupCommit(store, _unexpected, in_thread=True)
        committed = asyncio.get_running_loop().create_future()
        journal.append(created("r"), lambda _: committed.set_result(None))
        ticks = 0
        while not committed.done():  # the loop is free while the commit waits for the disk
            ticks += 1
            await asyncio.sleep(0.001)
        for seq in range(1, 6):
            journal.append(_started(seq))
        await asyncio.sleep(0.01)  # these five are in flight now
        journal.append(_started(6))
        journal.append(_started(7))  # appended during a commit: together in the next one
        while sum(store.batches) < 8:
            await asyncio.sleep(0.005)
        journal.flush_now()  # the store has the last batch; let the loop count it as landed
        journal.close()
        return ticks, journal.commits

    ticks, commits = asyncio.run(scenario())
    assert ticks >= 3  # ~45 on a quiet machine; a loaded one wakes the 1 ms sleeps late
    assert store.threads == {"kflow-commit_0"}
    assert [type(e) for e in store.read("r")][:2] == [ev.RunCreated, ev.StepStarted]
    assert store.batches == [1, 5, 2] and commits == 3


def test_a_commit_someone_waits_for_is_made_in_place_while_kflows_loop_is_quiet() -> None:
    store = SlowDisk(0.02)

    async def scenario() -> float:
        journal = GroupCommit(store, _unexpected, in_thread=True)
        committed = asyncio.get_running_loop().create_future()
        journal.append(created("r"), lambda _: committed.set_result(None))  # at once
        await committed
        return journal.commit_seconds

    estimate = loop.run(scenario())
    assert store.threads == {"MainThread"}  # no hand-off to the writer thread and back
    assert 0.005 < estimate < 0.02  # moved from 2 ms toward the 20 ms the commit took


def test_a_hurried_commit_is_made_in_place_despite_the_journals_own_lazy_timer() -> None:
    store = SlowDisk(0.0)

    async def scenario() -> None:
        journal = await _with_a_run(store)
        journal.commit_seconds = 0.01  # a slow disk: longer than the lazy timer's wait
        committed = asyncio.get_running_loop().create_future()
        journal.append(_started(1), lazy=True, starts_attempt=True)  # arms the lazy timer
        journal.append(_started(2), lambda _: committed.set_result(None), lazy=True)
        journal.hurry()  # a free slot waits for what this result readied
        await committed

    loop.run(scenario())
    assert store.threads == {"MainThread"}


def test_a_commit_nobody_waits_for_stays_in_the_writer_thread() -> None:
    store = SlowDisk(0.0)

    async def scenario() -> None:
        journal = await _with_a_run(store)
        committed = asyncio.get_running_loop().create_future()
        journal.append(_started(1), lambda _: committed.set_result(None), lazy=True)
        await committed  # after LAZY_SECONDS, on a loop with nothing else to do

    loop.run(scenario())
    assert store.threads == {"kflow-commit_0"}


def test_a_commit_goes_to_the_writer_thread_if_a_timer_falls_due_before_it_could_end() -> None:
    store = SlowDisk(0.0)

    async def scenario() -> None:
        event_loop = asyncio.get_running_loop()
        journal = GroupCommit(store, _unexpected, in_thread=True)
        timer = event_loop.call_later(journal.commit_seconds, lambda: None)
        committed = event_loop.create_future()
        journal.append(created("r"), lambda _: committed.set_result(None))
        await committed
        timer.cancel()

    loop.run(scenario())
    assert store.threads == {"kflow-commit_0"}


def test_every_group_commit_on_a_store_shares_its_writer_thread() -> None:
    store, other = SlowDisk(0.0), SlowDisk(0.0)

    async def commit_once(on: SlowDisk, run_id: str) -> None:
        journal = GroupCommit(on, _unexpected, in_thread=True)
        journal.append(created(run_id))
        journal.flush()  # to the writer thread (`flush_now` alone commits in place)
        journal.flush_now()
        journal.close()

    for run_id in ("a", "b", "c"):  # a worker each, as `Service.execute` makes them
        asyncio.run(commit_once(store, run_id))
    asyncio.run(commit_once(other, "a"))
    assert len(store.writers) == 1 and threading.current_thread() not in store.writers
    assert other.writers.isdisjoint(store.writers)  # each store has a writer of its own


def test_a_store_that_cannot_be_a_weak_key_gets_a_writer_for_each_journal() -> None:
    class Unhashable(SlowDisk):  # noqa: PLW1641 (unhashable on purpose)
        def __eq__(self, other: object) -> bool:  # as a dataclass's: instances lose their hash
            return self is other

    store = Unhashable(0.0)

    async def scenario() -> None:
        journal = GroupCommit(store, _unexpected, in_thread=True)
        journal.append(created("r"))
        journal.flush()  # to the writer thread
        journal.flush_now()
        (writer,) = store.writers
        assert writer is not threading.current_thread() and writer.is_alive()
        journal.close()  # the journal lives on: only `close` can end its writer
        writer.join(5)
        assert not writer.is_alive()
        journal.append(_started(1))
        journal.flush()  # no writer left: in place rather than lost

    asyncio.run(scenario())
    assert [type(e) for e in store.read("r")] == [ev.RunCreated, ev.StepStarted]


def test_a_stores_writer_thread_ends_when_the_store_is_dropped() -> None:
    def writers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("kflow-commit")]

    before = len(writers())
    store = SlowDisk(0.0)

    async def scenario(store: SlowDisk) -> None:
        journal = GroupCommit(store, _unexpected, in_thread=True)
        journal.append(created("r"))
        journal.flush()
        journal.flush_now()
        journal.close()

    asyncio.run(scenario(store))
    assert len(writers()) == before + 1
    del store
    gc.collect()
    deadline = time.monotonic() + 5
    while len(writers()) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(writers()) == before


def test_flush_now_returns_once_everything_appended_is_committed() -> None:
    store = SlowDisk(0.02)

    async def scenario() -> list[int]:
        journal = GroupCommit(store, _unexpected, in_thread=True)
        done: list[int] = []
        journal.append(created("r"), lambda _: done.append(0))
        journal.flush()  # now in flight
        journal.append(_started(1), lambda _: done.append(1))
        journal.flush_now()
        journal.close()
        return done

    assert asyncio.run(scenario()) == [0, 1]
    assert len(store.read("r")) == 2


def test_a_failed_commit_in_the_writer_thread_is_reported_and_runs_no_callback() -> None:
    store = SlowDisk(0.0)
    errors: list[BaseException] = []

    async def scenario() -> list[str]:
        journal = GroupCommit(store, errors.append, in_thread=True)
        seen: list[str] = []
        journal.append(created("r"), lambda _: seen.append("first"))
        journal.append(created("r"), lambda _: seen.append("duplicate"))  # seq 0 twice
        for _ in range(20):
            await asyncio.sleep(0.005)
        journal.close()
        return seen

    assert asyncio.run(scenario()) == []
    assert len(errors) == 1


class _Definitions(SlowDisk):
    """A slow disk that notes the definitions each commit stored."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.stored: list[dict[str, bytes]] = []

    def append(self, *args: Any, **kwargs: Any) -> None:
        before = set(self.definitions)
        super().append(*args, **kwargs)
        self.stored.append({d: b for d, b in self.definitions.items() if d not in before})


def test_new_runs_commit_with_what_follows_them_and_their_specs_once() -> None:
    store = _Definitions()

    async def scenario() -> None:
        journal = GroupCommit(store, _unexpected, in_thread=True)  # commits in the thread
        journal.add_runs([created("r")], {"d": b"{}"})
        journal.append(_started(1))
        for _ in range(20):  # the first commit, then a lazy one for the next start
            await asyncio.sleep(0.005)
            if len(store.batches) == 1:
                journal.append(_started(2), lazy=True)
        journal.close()

    asyncio.run(scenario())
    assert store.batches == [2, 1]
    assert store.stored == [{"d": b"{}"}, {}]


def test_new_runs_commit_with_their_leases_added_up_until_the_commit() -> None:
    store = MemoryStore()

    async def scenario() -> None:
        journal = GroupCommit(store, _unexpected)
        journal.add_runs([created("r")], {"d": b"{}"}, [Lease("r", "me", "h", 1, 1.0)])
        journal.add_runs([created("q")], {"d": b"{}"}, [Lease("q", "me", "h", 1, 1.0)])
        journal.flush_now()
        journal.append(_started(1))  # a later batch brings no lease along
        journal.flush_now()

    asyncio.run(scenario())
    assert store.batches == [2, 1]
    assert sorted(store.leases) == ["q", "r"]


def test_after_a_failed_commit_nothing_appended_later_is_stored() -> None:
    store = MemoryStore()
    errors: list[BaseException] = []

    async def scenario() -> None:
        journal = GroupCommit(store, errors.append)
        journal.append(created("r"))
        journal.append(created("r"))  # seq 0 twice: this batch fails and is rolled back
        await asyncio.sleep(0.001)
        journal.append(created("q"))  # would follow on from nothing the store holds
        await asyncio.sleep(0.001)
        journal.flush_now()

    asyncio.run(scenario())
    assert len(errors) == 1
    assert store.journals == {}


async def _committed_run(store: MemoryStore) -> GroupCommit:
    """A group commit whose store holds run "r" (one commit)."""
    journal = GroupCommit(store, _unexpected)
    journal.append(created("r"))
    await asyncio.sleep(0.001)
    return journal


def test_a_lazy_entry_waits_for_a_later_commit_and_shares_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal_module, "LAZY_SECONDS", 60.0)  # never due in this test
    store = MemoryStore()

    async def scenario() -> list[int]:
        journal = await _committed_run(store)
        journal.append(_started(1), lazy=True)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert store.batches == [1], "a lazy entry was committed in its own tick"
        journal.append(_started(2))  # something waits for this one: both commit now
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return store.batches

    assert asyncio.run(scenario()) == [1, 2]


def test_a_lazy_entry_alone_is_committed_after_lazy_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal_module, "LAZY_SECONDS", 0.01)
    store = MemoryStore()

    async def scenario() -> list[int]:
        journal = await _committed_run(store)
        journal.append(_started(1), lazy=True)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(store.batches) == 2:
                break
        return store.batches

    assert asyncio.run(scenario()) == [1, 1]


def test_a_lazy_timer_due_during_a_commit_lets_the_work_it_queued_share_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The lazy timer of entry 1 falls due in the tick that commits it; the commit's
    # callback appends a lazy start and queues its attempt, which appends a result. The
    # timer must not commit the start alone before the attempt has had its turn.
    monkeypatch.setattr(journal_module, "LAZY_SECONDS", 0.005)
    store = MemoryStore()

    async def scenario() -> list[int]:
        journal = await _committed_run(store)
        loop = asyncio.get_running_loop()

        def start_next(_: Entry) -> None:
            journal.append(_started(3), lazy=True)
            loop.call_soon(lambda: journal.append(_started(4), lazy=True))

        journal.append(_started(1), lazy=True)  # arms the lazy timer
        time.sleep(0.01)  # the timer is due before the next tick
        journal.append(_started(2), start_next)
        for _ in range(100):
            await asyncio.sleep(0.005)
            if sum(store.batches) == 5:
                break
        return store.batches

    assert asyncio.run(scenario()) == [1, 2, 2]


def test_hurry_commits_lazy_entries_in_this_tick() -> None:
    store = MemoryStore()

    async def scenario() -> list[int]:
        journal = await _committed_run(store)
        journal.append(_started(1), lazy=True)
        journal.hurry()  # a free slot waits for this result
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return store.batches

    assert asyncio.run(scenario()) == [1, 1]


def test_a_commit_in_the_writer_thread_counts_as_thread_work() -> None:
    store = SlowDisk(0.001)
    seen: list[int] = []
    original = store.append

    def append(*args: Any, **kwargs: Any) -> None:
        seen.append(thread_work.busy)
        original(*args, **kwargs)

    store.append = append  # type: ignore[method-assign]
    begun = thread_work.begun

    async def scenario() -> None:
        journal = GroupCommit(store, _unexpected, in_thread=True)
        journal.append(created("r"))
        await asyncio.sleep(0.05)
        journal.flush_now()
        journal.close()

    asyncio.run(scenario())
    assert seen == [1] and thread_work.begun == begun + 1 and thread_work.busy == 0


def test_a_failed_commit_in_the_writer_thread_ends_its_thread_work() -> None:
    class Broken(MemoryStore):
        def append(self, *_: Any, **__: Any) -> None:
            raise OSError("disk full")

    errors: list[BaseException] = []

    async def scenario() -> None:
        journal = GroupCommit(Broken(), errors.append, in_thread=True)
        journal.append(created("r"))
        await asyncio.sleep(0.05)
        journal.close()

    asyncio.run(scenario())
    assert [str(e) for e in errors] == ["disk full"] and thread_work.busy == 0
