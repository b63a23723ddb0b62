"""Journal rows that hold a batch of events: one per run and commit, in sequence."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from kflow.engine import events as ev
from kflow.store.batches import batch_rows, row_events
from tests.unit.store.test_contract import created, entry


def _started(run_id: str, seq: int) -> ev.StepStarted:
    return ev.StepStarted(at=float(seq), step=f"{run_id}-{seq}", attempt=1)


def test_a_runs_consecutive_events_in_one_commit_share_a_row() -> None:
    entries = [
        created("a"),
        created("b"),
        entry("a", 1, _started("a", 1)),
        entry("b", 1, _started("b", 1)),
        entry("a", 2, _started("a", 2)),
    ]
    rows = batch_rows(entries)
    assert [(run_id, seq, count) for run_id, seq, count, _ in rows] == [("a", 0, 3), ("b", 0, 2)]
    a_body = rows[0][3]
    assert [event["type"] for event in json.loads(a_body)] == [
        "run_created",
        "step_started",
        "step_started",
    ]


def test_a_single_event_is_stored_as_itself_not_in_an_array() -> None:
    one = entry("a", 4, _started("a", 4))
    assert batch_rows([one]) == [("a", 4, 1, one.body)]


def test_a_gap_in_a_runs_sequence_starts_a_new_row() -> None:
    rows = batch_rows([entry("a", s, _started("a", s)) for s in (1, 2, 5, 6)])
    assert [(seq, count) for _, seq, count, _ in rows] == [(1, 2), (5, 2)]


@given(st.lists(st.sampled_from("abc"), max_size=40))
def test_rows_give_back_every_event_of_each_run_in_order(appenders: list[str]) -> None:
    next_seq = dict.fromkeys("abc", 1)
    entries = []
    for run_id in appenders:
        entries.append(entry(run_id, next_seq[run_id], _started(run_id, next_seq[run_id])))
        next_seq[run_id] += 1
    read_back: dict[str, list[ev.AnyEvent]] = {}
    for run_id, seq, count, body in batch_rows(entries):
        events = row_events(count, body)
        assert len(events) == count
        assert seq == len(read_back.get(run_id, [])) + 1
        read_back.setdefault(run_id, []).extend(events)
    for run_id in "abc":
        expected = [e.event for e in entries if e.run_id == run_id]
        assert read_back.get(run_id, []) == expected
