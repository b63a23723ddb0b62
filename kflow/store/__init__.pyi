"""Journal stores: the protocol and one class per backend."""

from .memory import MemoryStore
from .protocol import ControlRequest, Entry, JournalStore, Lease, RunSummary
from .sqlite import Durability, SqliteStore

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
