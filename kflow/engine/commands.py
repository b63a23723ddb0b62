"""What the engine asks the runtime to do; the runtime carries each out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kflow.engine.events import AnyEvent, Variant
from kflow.plan import ActionRef


@dataclass(frozen=True, slots=True)
class Start:
    """Record `StepStarted` for this attempt, then run `action` with `inputs`."""

    step: str
    index: int | None
    attempt: int
    variant: Variant
    action: ActionRef
    inputs: dict[str, Any]
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Record:
    """Append `event` to the journal (the engine decided it; no action runs)."""

    event: AnyEvent


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Ask the engine again at time `at` (a retry falls due, or the run's deadline)."""

    at: float


Command = Start | Record | WakeAt
