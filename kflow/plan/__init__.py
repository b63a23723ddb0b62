"""Compiling a workflow spec into an executable graph."""

from __future__ import annotations

from kflow.plan.compile import compile_plan, spec_digest
from kflow.plan.graph import critical_path, levels
from kflow.plan.load import load_plan
from kflow.plan.mermaid import to_mermaid
from kflow.plan.model import (
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
