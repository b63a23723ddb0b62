"""Who executes a run: leases kept alive by heartbeats, and the check that a holder is gone."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from kflow.store.protocol import Lease

HEARTBEAT_SECONDS = 1.0
LEASE_SECONDS = 5.0
"""A lease whose heartbeat is older than this is free, wherever its holder runs."""


@dataclass(frozen=True, slots=True)
class Owner:
    """This process, as a lease holder."""

    id: str
    host: str
    pid: int

    @classmethod
    def here(cls) -> Owner:
        """An owner id for this process."""
        return cls(uuid.uuid4().hex[:12], socket.gethostname(), os.getpid())

    def lease(self, run_id: str, at: float) -> Lease:
        """A lease on `run_id` held by this owner."""
        return Lease(run_id, self.id, self.host, self.pid, at)


def is_live(lease: Lease | None, now: float) -> bool:
    """Whether the lease's holder may still be executing the run.

    On the same host a dead process is detected at once (kill -9 leaves a
    fresh heartbeat behind); elsewhere the heartbeat must go stale.
    """
    if lease is None or now - lease.heartbeat_at > LEASE_SECONDS:
        return False
    if lease.host == socket.gethostname():
        return lease.pid == os.getpid() or _process_exists(lease.pid)
    return True


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    # A killed child that its parent has not reaped yet still "exists" for kill(0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
