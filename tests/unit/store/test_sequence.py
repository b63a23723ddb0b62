"""Each run's journal stays in sequence, checked from the ends a store knows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kflow.store import sequence
from kflow.store.batches import Row
from kflow.store.sequence import OutOfSequence, RunEnds


def row(run_id: str, seq: int, count: int = 1) -> Row:
    return (run_id, seq, count, b"{}")


def test_only_runs_past_their_first_row_and_not_known_yet_need_a_read() -> None:
    ends = RunEnds()
    ends.advance({"known": 3})
    assert ends.unknown([row("new", 0), row("known", 3), row("other", 5)]) == ["other"]


def test_rows_must_start_where_their_run_ends_even_within_one_batch() -> None:
    ends = RunEnds()
    ends.advance({"a": 2})
    assert ends.check([row("a", 2, 3), row("b", 0, 2), row("c", 4)], {"c": 4}) == {
        "a": 5,
        "b": 2,
        "c": 5,
    }
    with pytest.raises(OutOfSequence, match="run 'a' got event 6 where 5 was next"):
        ends.check([row("a", 2, 3), row("a", 6)], {})  # a gap between two rows of a batch
    with pytest.raises(OutOfSequence, match="run 'a' got event 1 where 2 was next"):
        ends.check([row("a", 1)], {})  # an overlap
    with pytest.raises(OutOfSequence, match="run 'n' got event 3 where 0 was next"):
        ends.check([row("n", 3)], {})  # a run the journal does not hold


def test_finished_runs_and_failed_commits_are_forgotten() -> None:
    ends = RunEnds()
    ends.advance({"a": 2, "b": 4}, finished=["b"])
    ends.forget(["a"])
    assert ends.unknown([row("a", 2), row("b", 4)]) == ["a", "b"]


def test_an_end_read_never_moves_a_known_end_back() -> None:
    ends = RunEnds()
    ends.advance({"a": 5})
    ends.saw("a", 3)  # a read that began before the last append
    ends.saw("b", 2)
    assert ends.check([row("a", 5), row("b", 2)], {}) == {"a": 6, "b": 3}


def test_past_the_limit_the_ends_are_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequence, "LIMIT", 2)
    ends = RunEnds()
    ends.advance({"a": 1, "b": 1})
    ends.advance({"c": 1})
    assert ends.unknown([row("a", 1), row("c", 1)]) == ["a"]


batches = st.lists(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(-1, 1), st.integers(1, 3)), max_size=5),
    max_size=12,
)


@given(batches)
def test_a_batch_is_accepted_exactly_when_every_row_starts_at_its_runs_end(
    plan: list[list[tuple[str, int, int]]],
) -> None:
    journal: dict[str, int] = {}  # the true ends
    ends = RunEnds()
    for batch in plan:
        rows, model, valid = [], dict(journal), True
        for run_id, offset, count in batch:
            start = model.get(run_id, 0) + offset
            if start < 0:
                continue
            valid = valid and offset == 0
            rows.append(row(run_id, start, count))
            model[run_id] = start + count
        read = {r: journal[r] for r in ends.unknown(rows) if r in journal}
        try:
            after = ends.check(rows, read)
        except OutOfSequence:
            assert not valid
            continue
        assert valid
        ends.advance(after)
        journal.update(after)
