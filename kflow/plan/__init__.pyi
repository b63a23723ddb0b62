"""Compiling a workflow spec into an executable graph."""

from .compile import compile_plan, spec_digest
from .graph import critical_path, levels
from .load import load_plan
from .mermaid import to_mermaid
from .model import (
    BUILTIN_ACTIONS,
    ActionKind,
    ActionRef,
    FanOut,
    OutputBinding,
    Plan,
    PlanStep,
    RetryPolicy,
)

__all__ = [
    "BUILTIN_ACTIONS",
    "ActionKind",
    "ActionRef",
    "FanOut",
    "OutputBinding",
    "Plan",
    "PlanStep",
    "RetryPolicy",
    "compile_plan",
    "critical_path",
    "levels",
    "load_plan",
    "spec_digest",
    "to_mermaid",
]
