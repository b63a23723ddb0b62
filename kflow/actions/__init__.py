"""The things a step does: Python callables, shell commands, built-ins and agents."""

from __future__ import annotations

from kflow.actions.agents import ENTRY_POINT_GROUP, AgentRegistry
from kflow.actions.base import (
    Action,
    InlineAction,
    StepContext,
    TimerAction,
    bind_context,
    current_step,
)
from kflow.actions.builtin import echo, noop, sleep
from kflow.actions.classify import Classified, classify
from kflow.actions.config import FILE_NAME, KflowConfig, load_config
from kflow.actions.python import PythonAction, import_callable, import_object
from kflow.actions.resolver import KINDS, ActionResolver
from kflow.actions.shell import ShellAction
from kflow.actions.shell_inputs import ShellRequest, parse_request

__all__ = [
    "ENTRY_POINT_GROUP",
    "FILE_NAME",
    "KINDS",
    "Action",
    "ActionResolver",
    "AgentRegistry",
    "Classified",
    "InlineAction",
    "KflowConfig",
    "PythonAction",
    "ShellAction",
    "ShellRequest",
    "StepContext",
    "TimerAction",
    "bind_context",
    "classify",
    "current_step",
    "echo",
    "import_callable",
    "import_object",
    "load_config",
    "noop",
    "parse_request",
    "sleep",
]
