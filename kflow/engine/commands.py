"""What the engine asks the runtime to do; the runtime carries each out.

msgspec Structs, like the events and for the same reasons: a few are made for every
step, a frozen dataclass costs several times as much to build, and (plain data, never in
a cycle) they need not be tracked by the garbage collector.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kflow.engine.events import AnyEvent, Variant
from kflow.plan import ActionRef


class Start(msgspec.Struct, frozen=True, gc=False):
    """Record `StepStarted` for this attempt, then run `action` with `inputs`."""

    step: str
    index: int | None
    attempt: int
    variant: Variant
    action: ActionRef
    inputs: dict[str, Any]
    timeout: float | None


class Record(msgspec.Struct, frozen=True, gc=False):
    """Append `event` to the journal (the engine decided it; no action runs)."""

    event: AnyEvent


class WakeAt(msgspec.Struct, frozen=True, gc=False):
    """Ask the engine again at time `at` (a retry falls due, or the run's deadline)."""

    at: float


Command = Start | Record | WakeAt
