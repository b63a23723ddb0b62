"""Journal stores: the protocol and one class per backend."""

from __future__ import annotations

from kflow.store.memory import MemoryStore
from kflow.store.protocol import ControlRequest, Entry, JournalStore, Lease, RunSummary
from kflow.store.sqlite import Durability, SqliteStore

__all__ = [
    "ControlRequest",
    "Durability",
    "Entry",
    "JournalStore",
    "Lease",
    "MemoryStore",
    "RunSummary",
    "SqliteStore",
]
