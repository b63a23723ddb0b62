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
    rows: list[tuple[str, int, list[bytes]]] = []
    open_rows: dict[str, tuple[str, int, list[bytes]]] = {}
    for entry in entries:
        row = open_rows.get(entry.run_id)
        if row is not None and row[1] + len(row[2]) == entry.seq:
            row[2].append(entry.body)
        else:  # the run's first event here, or a gap in its sequence: a row of its own
            row = open_rows[entry.run_id] = (entry.run_id, entry.seq, [entry.body])
            rows.append(row)
    return [(run_id, seq, len(bodies), _body(bodies)) for run_id, seq, bodies in rows]


def _body(bodies: list[bytes]) -> bytes:
    return bodies[0] if len(bodies) == 1 else b"[" + b",".join(bodies) + b"]"


def row_events(count: int, body: bytes) -> list[ev.AnyEvent]:
    """The events a row holds, in order."""
    return [ev.decode(body)] if count == 1 else _array_decoder.decode(body)
