"""The things a step does: Python callables, shell commands, built-ins and agents."""

from .agents import ENTRY_POINT_GROUP, AgentRegistry
from .base import (
    Action,
    InlineAction,
    StepContext,
    TimerAction,
    bind_context,
    current_step,
)
from .builtin import echo, noop, sleep
from .classify import Classified, classify
from .config import FILE_NAME, KflowConfig, find_config, load_config
from .python import PythonAction, import_callable, import_object
from .resolver import KINDS, ActionResolver
from .shell import ShellAction
from .shell_inputs import ShellRequest, parse_request

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
    "find_config",
    "import_callable",
    "import_object",
    "load_config",
    "noop",
    "parse_request",
    "sleep",
]
