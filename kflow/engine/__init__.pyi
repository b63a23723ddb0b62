"""The pure core: journal events, run state, and the state machine that folds and decides."""

from . import commands, events
from .failure import Decision, decide_failure
from .machine import RunMachine
from .state import RunState, RunStatus, StepState, StepStatus, TaskState

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
