"""Journal rows that hold a batch of events: one per run and commit.

A commit appends the events of many runs; each run's events in it (consecutive sequence
numbers) go into one row, whose body is the event's JSON if there is one, else a JSON
array of the events. Stores that keep rows this way (SQLite, and PostgreSQL later) share
these two functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from kflow.engine import events as ev
from kflow.store.protocol import Entry

Row = tuple[str, int, int, bytes]
"""(run_id, seq of the first event, number of events, body)."""

_array_decoder: msgspec.json.Decoder[list[ev.AnyEvent]] = msgspec.json.Decoder(list[ev.AnyEvent])


def batch_rows(entries: Sequence[Entry]) -> list[Row]:
    """The rows for `entries`: a run's consecutive events share one, in their order."""
    runs: dict[str, list[Entry]] = {}
    for entry in entries:
        runs.setdefault(entry.run_id, []).append(entry)
    rows = []
    for run_id, batch in runs.items():
        first = 0
        for i in range(1, len(batch) + 1):
            # A gap in the sequence numbers (never made by kflow's drivers) starts a new row,
            # so that a row's events are always `seq`, `seq + 1`, ...
            if i == len(batch) or batch[i].seq != batch[i - 1].seq + 1:
                rows.append(_row(run_id, batch[first:i]))
                first = i
    return rows


def _row(run_id: str, batch: Sequence[Entry]) -> Row:
    if len(batch) == 1:
        body = batch[0].body
    else:
        body = b"[" + b",".join(entry.body for entry in batch) + b"]"
    return run_id, batch[0].seq, len(batch), body


def row_events(count: int, body: bytes) -> list[ev.AnyEvent]:
    """The events a row holds, in order."""
    return [ev.decode(body)] if count == 1 else _array_decoder.decode(body)
