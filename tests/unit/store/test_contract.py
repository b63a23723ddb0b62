"""Every JournalStore backend keeps the same promises (run against memory and SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kflow.engine import events as ev
from kflow.errors import DefinitionNotFound, LeaseChanged, RunNotFound, StoreError
from kflow.store import Entry, JournalStore, Lease, MemoryStore, SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JournalStore]:
    backend: JournalStore = (
        MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "k.db")
    )
    yield backend
    backend.close()


def created(run_id: str, at: float = 1.0) -> Entry:
    event = ev.RunCreated(
        at=at,
        run_id=run_id,
        workflow_id="wf",
        version="1",
        digest="d",
        inputs={},
        max_concurrency=1,
    )
    return Entry(run_id, 0, event, ev.encode(event))


def entry(run_id: str, seq: int, event: ev.AnyEvent) -> Entry:
    return Entry(run_id, seq, event, ev.encode(event))


def test_appended_events_read_back_in_order(store: JournalStore) -> None:
    started = ev.StepStarted(at=2.0, step="a", attempt=1)
    store.append([created("r1"), entry("r1", 1, started)])
    events = store.read("r1")
    assert [type(e) for e in events] == [ev.RunCreated, ev.StepStarted]
    assert events[1] == started


def test_a_batch_with_a_sequence_conflict_is_rejected_whole(store: JournalStore) -> None:
    store.append([created("r1")])
    with pytest.raises(StoreError):
        store.append([created("r2"), entry("r1", 0, ev.RunResumed(at=3.0))])
    with pytest.raises(RunNotFound):
        store.read("r2")
    assert len(store.read("r1")) == 1


def test_a_writer_that_read_a_run_before_another_extended_it_is_rejected(
    store: JournalStore,
) -> None:
    started = ev.StepStarted(at=2.0, step="a", attempt=1)
    store.append([created("r1"), entry("r1", 1, started)])
    store.append([entry("r1", 2, started), entry("r1", 3, started)])  # one writer goes on
    with pytest.raises(StoreError):  # another read the run at 2 events: it is too late
        store.append([entry("r1", 2, ev.RunResumed(at=3.0))])
    store.append([entry("r1", 4, ev.RunResumed(at=3.0))])
    assert len(store.read("r1")) == 5


def test_events_appended_out_of_sequence_are_rejected(store: JournalStore) -> None:
    started = ev.StepStarted(at=2.0, step="a", attempt=1)
    store.append([created("r1"), entry("r1", 1, started), entry("r1", 2, started)])
    for seq in (1, 2, 4):  # inside a stored batch, at its last event, past the next one
        with pytest.raises(StoreError):
            store.append([entry("r1", seq, ev.RunResumed(at=3.0))])
    store.append([entry("r1", 3, ev.RunResumed(at=3.0))])
    assert len(store.read("r1")) == 4


def test_a_definition_is_stored_once_per_digest_with_the_runs_that_use_it(
    store: JournalStore,
) -> None:
    store.append([created("r1")], {"d": b'{"id": "first"}'})
    store.append([created("r2")], {"d": b'{"id": "second"}'})  # the same digest: kept as is
    assert store.definition("d") == b'{"id": "first"}'
    assert store.read("r2")[0] == created("r2").event  # the event names it, holds no copy


def test_a_rejected_batch_stores_no_definition(store: JournalStore) -> None:
    store.append([created("r1")])
    with pytest.raises(StoreError):
        store.append([created("r1")], {"e": b"{}"})  # r1 exists: out of sequence
    with pytest.raises(DefinitionNotFound, match=r"definition e of this run is not in"):
        store.definition("e")


def test_new_runs_are_stored_with_their_leases_or_neither(store: JournalStore) -> None:
    mine = [Lease(r, "me", "h", 1, 1.0) for r in ("r1", "r2")]
    store.append([created("r1"), created("r2")], {"d": b"{}"}, mine)
    assert store.leases_of(["r1", "r2"]) == {"r1": mine[0], "r2": mine[1]}
    with pytest.raises(StoreError):  # r1 exists: the batch, r3's lease too, is refused
        store.append([created("r3"), created("r1")], {"d": b"{}"}, [Lease("r3", "me", "h", 1, 1.0)])
    assert store.lease("r3") is None
    with pytest.raises(StoreError):  # a lease held already: the run is not stored either
        store.append([created("r4")], {"d": b"{}"}, [Lease("r1", "other", "h", 2, 2.0)])
    assert store.lease("r1") == mine[0]
    with pytest.raises(RunNotFound):
        store.read("r4")
    twice = [Lease("r5", "me", "h", 1, 1.0)] * 2
    with pytest.raises(StoreError):  # one run, two leases
        store.append([created("r5")], {"d": b"{}"}, twice)
    assert store.lease("r5") is None
    # Entries that make no run, of a run the store knows: the lease is stored all the same.
    started = ev.StepStarted(at=2.0, step="a", attempt=1)
    store.append([created("r6")], {"d": b"{}"})
    store.append([entry("r6", 1, started)], None, [Lease("r6", "me", "h", 1, 3.0)])
    assert store.lease("r6") == Lease("r6", "me", "h", 1, 3.0)


def test_an_unknown_run_is_reported_with_what_to_do(store: JournalStore) -> None:
    with pytest.raises(RunNotFound, match="no run 'nope' in .*; list runs with `kflow runs`"):
        store.read("nope")


def test_a_unique_prefix_finds_the_run(store: JournalStore) -> None:
    store.append([created("abc123"), created("abd456")])
    assert store.resolve_id("abc") == "abc123"
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve_id("ab")
    with pytest.raises(RunNotFound):
        store.resolve_id("zzz")


def test_many_ids_and_prefixes_are_resolved_in_their_order(store: JournalStore) -> None:
    store.append([created("abc123"), created("abd456"), created("xyz")])
    assert store.resolve_ids(["xyz", "abd", "abc123"]) == ["xyz", "abd456", "abc123"]
    assert store.resolve_ids(["xyz"]) == ["xyz"] and store.resolve_ids([]) == []
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve_ids(["xyz", "ab"])
    with pytest.raises(RunNotFound, match="no run 'zzz'"):
        store.resolve_ids(["abc123", "zzz"])


def test_runs_are_listed_newest_first_and_filtered_by_status(store: JournalStore) -> None:
    store.append([created("old", at=1.0), created("new", at=2.0)])
    error = ev.ErrorInfo(kind="permanent", message="bad")
    store.append([entry("old", 1, ev.RunFailed(at=3.0, error=error))])
    assert [r.run_id for r in store.list_runs()] == ["new", "old"]
    (failed,) = store.list_runs("failed")
    assert (failed.run_id, failed.error) == ("old", "bad")
    assert store.unfinished() == ["new"]
    store.append([entry("new", 1, ev.RunPaused(at=4.0))])
    assert store.list_runs("paused")[0].run_id == "new"
    assert store.unfinished() == ["new"]


def test_control_requests_are_pending_until_handled(store: JournalStore) -> None:
    request = store.request("r1", "pause", "lunch", 1.0)
    assert [(r.run_id, r.action, r.reason) for r in store.pending_requests()] == [
        ("r1", "pause", "lunch")
    ]
    assert not store.is_handled(request)
    store.mark_handled([request], 2.0)
    assert store.is_handled(request)
    assert store.pending_requests() == []


def test_leases_are_taken_renewed_and_released_by_their_owner(store: JournalStore) -> None:
    assert store.take_leases([Lease("r1", "w1", "host", 10, 1.0)], {}) == ["r1"]
    store.heartbeat("w1", 5.0)
    lease = store.lease("r1")
    assert lease is not None and lease.heartbeat_at == 5.0
    store.release(["r1"], "someone-else")
    assert store.lease("r1") is not None
    store.release(["r1"], "w1")
    assert store.lease("r1") is None


def test_many_runs_and_their_leases_are_read_at_once(store: JournalStore) -> None:
    started = ev.StepStarted(at=2.0, step="a", attempt=1)
    store.append([created("r1"), created("r2"), entry("r1", 1, started)])
    store.append([entry("r1", 2, ev.RunPaused(at=3.0))])
    journals = store.read_runs(["r2", "r1"])
    assert journals == {"r2": store.read("r2"), "r1": store.read("r1")}
    assert [type(e) for e in journals["r1"]] == [ev.RunCreated, ev.StepStarted, ev.RunPaused]
    with pytest.raises(RunNotFound, match="no run 'r3'"):
        store.read_runs(["r1", "r3"])
    store.take_leases([Lease("r2", "w1", "host", 10, 1.0)], {})
    assert store.leases_of(["r1", "r2"]) == {"r2": Lease("r2", "w1", "host", 10, 1.0)}
    assert store.leases_of([]) == {}
    assert store.leases_of(["r2"]) == {"r2": Lease("r2", "w1", "host", 10, 1.0)}
    assert store.leases_of(["r1"]) == {}
    assert store.read_runs(["r1"]) == {"r1": journals["r1"]}


def test_a_lease_is_taken_only_from_the_holder_the_taker_saw(store: JournalStore) -> None:
    assert store.take_leases([Lease("r1", "w1", "host", 10, 1.0)], {"r1": None}) == ["r1"]
    # w2 and w3 both saw w1 holding it; only the first of them gets it.
    assert store.take_leases([Lease("r1", "w2", "host", 11, 2.0)], {"r1": "w1"}) == ["r1"]
    assert store.take_leases([Lease("r1", "w3", "host", 12, 2.0)], {"r1": "w1"}) == []
    lease = store.lease("r1")
    assert lease is not None and lease.owner == "w2"
    # Two takers that both saw it free: the second one loses.
    assert store.take_leases([Lease("r2", "w2", "host", 11, 2.0)], {"r2": None}) == ["r2"]
    assert store.take_leases([Lease("r2", "w3", "host", 12, 2.0)], {"r2": None}) == []


def test_many_leases_are_taken_at_once_each_from_the_holder_seen(store: JournalStore) -> None:
    store.take_leases([Lease("held", "w1", "host", 10, 1.0), Lease("mine", "w2", "h", 11, 1.0)], {})
    wanted = [Lease(r, "w2", "h", 11, 2.0) for r in ("free", "held", "seen", "mine")]
    store.take_leases([Lease("seen", "w9", "host", 19, 1.0)], {})
    # "held" is w1's and w2 did not see that; "seen" is w9's, as w2 saw; "mine" is w2's own.
    taken = store.take_leases(wanted, {"free": None, "held": None, "seen": "w9", "mine": None})
    assert taken == ["free", "seen", "mine"]
    assert store.leases_of(["free", "held", "seen", "mine"]) == {
        "free": Lease("free", "w2", "h", 11, 2.0),
        "held": Lease("held", "w1", "host", 10, 1.0),
        "seen": Lease("seen", "w2", "h", 11, 2.0),
        "mine": Lease("mine", "w2", "h", 11, 2.0),
    }


def test_an_append_for_the_lease_holder_seen_is_refused_once_another_took_the_run(
    store: JournalStore,
) -> None:
    store.append([created("r1")])
    cancelled = ev.RunCancelled(at=2.0, reason="by hand")
    store.append([entry("r1", 1, cancelled)], holders={"r1": None})  # nobody holds it: kept
    assert store.take_leases([Lease("r1", "w1", "host", 10, 3.0)], {"r1": None}) == ["r1"]
    paused = ev.RunPaused(at=4.0, reason="too late")
    with pytest.raises(LeaseChanged, match="r1' was taken by another worker meanwhile"):
        store.append([entry("r1", 2, paused)], holders={"r1": None})
    assert store.read("r1") == [store.read("r1")[0], cancelled]  # nothing of it was kept
    store.append([entry("r1", 2, paused)], holders={"r1": "w1"})  # the holder seen: kept
    assert store.read("r1")[-1] == paused
