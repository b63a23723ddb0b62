"""Journal events: every state change of a run, in a closed, tagged union.

A run's state is the fold of its events (see `machine.RunMachine.apply`).
Events are msgspec structs so that they encode to compact JSON quickly;
`at` is the wall-clock time the runtime observed, never read by the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

Variant = Literal["primary", "fallback", "escalation"]
FailureDecision = Literal["retry", "fallback", "escalate", "fail", "continue"]


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A classified failure, as stored in the journal."""

    kind: str
    """One of kflow.errors.ErrorKind's values."""
    message: str
    type: str = "Error"
    """The exception's type name."""
    details: str | None = None
    """What else is known: a Python exception's traceback, the end of a command's stderr."""


class Event(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", omit_defaults=True, gc=False
):
    """Base of every journal event.

    Untracked by the garbage collector (`gc=False`): several are made per step, and an
    event never refers back to anything that refers to it, so it cannot be in a cycle.
    Fewer tracked objects mean fewer and shorter collections, each a stall of the loop.
    """

    at: float
    """Seconds since the epoch when the runtime recorded the event."""


class RunCreated(Event, tag="run_created", frozen=True, kw_only=True):
    """A run was created from a workflow definition and inputs."""

    run_id: str
    workflow_id: str
    version: str
    digest: str
    definition: msgspec.Raw = msgspec.Raw(b"null")
    """The workflow spec as raw JSON, in journals written before the store kept each
    definition once per digest (`JournalStore.definition`); since then null (left out)."""
    inputs: dict[str, Any]
    max_concurrency: int
    environment: dict[str, Any] = {}
    """Where actions are found (agent registrations, python paths), for recovery."""

    @property
    def inline_definition(self) -> bytes | None:
        """The spec's JSON if this event holds it (older journals), else None."""
        body = bytes(self.definition)
        return None if body == b"null" else body


class StepStarted(Event, tag="step_started", frozen=True, kw_only=True):
    """An attempt of a step (or of one fan-out item) began."""

    step: str
    index: int | None = None
    attempt: int
    variant: Variant = "primary"


class StepSucceeded(Event, tag="step_succeeded", frozen=True, kw_only=True):
    """An attempt finished; `output` holds the step's named outputs."""

    step: str
    index: int | None = None
    attempt: int
    output: dict[str, Any]


class StepFailed(Event, tag="step_failed", frozen=True, kw_only=True):
    """An attempt failed; `decision` records what happens next."""

    step: str
    index: int | None = None
    attempt: int
    error: ErrorInfo
    decision: FailureDecision
    retry_at: float | None = None
    """When the next attempt is due, if `decision` is retry."""


class RunPaused(Event, tag="run_paused", frozen=True, kw_only=True):
    """No new steps start until the run is resumed."""

    reason: str = ""


class RunResumed(Event, tag="run_resumed", frozen=True, kw_only=True):
    """A paused run goes on."""


class RunRecovered(Event, tag="run_recovered", frozen=True, kw_only=True):
    """A worker took over a run whose previous worker stopped; running attempts were lost."""

    owner: str


class RunCancelled(Event, tag="run_cancelled", frozen=True, kw_only=True):
    """The run was cancelled; running attempts are abandoned."""

    reason: str = ""


class RunSucceeded(Event, tag="run_succeeded", frozen=True, kw_only=True):
    """Every step finished; `outputs` are the workflow's outputs."""

    outputs: dict[str, Any]


class RunFailed(Event, tag="run_failed", frozen=True, kw_only=True):
    """The run failed; `step` names the step that failed it, if any."""

    error: ErrorInfo
    step: str | None = None


AnyEvent = (
    RunCreated
    | StepStarted
    | StepSucceeded
    | StepFailed
    | RunPaused
    | RunResumed
    | RunRecovered
    | RunCancelled
    | RunSucceeded
    | RunFailed
)

TERMINAL_EVENTS = (RunSucceeded, RunFailed, RunCancelled)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


encode: Callable[[AnyEvent], bytes] = _encoder.encode
"""Compact JSON for the journal; raises TypeError for values JSON cannot hold. The
encoder's own method, not a function around it: it runs twice a step."""


def decode(data: bytes | str) -> AnyEvent:
    """The event stored as `data`."""
    return _decoder.decode(data)
