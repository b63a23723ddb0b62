"""The pure core: journal events, run state, and the state machine that folds and decides."""

from __future__ import annotations

from kflow.engine import commands, events
from kflow.engine.failure import Decision, decide_failure
from kflow.engine.machine import RunMachine
from kflow.engine.state import RunState, RunStatus, StepState, StepStatus, TaskState

__all__ = [
    "Decision",
    "RunMachine",
    "RunState",
    "RunStatus",
    "StepState",
    "StepStatus",
    "TaskState",
    "commands",
    "decide_failure",
    "events",
]
