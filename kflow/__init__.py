"""kflow: durable workflows for Python, in YAML or code, on SQLite or PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kflow.errors import ErrorKind, KflowError, StepFailure

if TYPE_CHECKING:
    from kflow.actions.base import StepContext, current_step
    from kflow.actions.placement import in_thread
    from kflow.runtime.engine import Engine
    from kflow.runtime.service import RunResult

__version__ = "0.1.0"
__all__ = [
    "Engine",
    "ErrorKind",
    "KflowError",
    "RunResult",
    "StepContext",
    "StepFailure",
    "current_step",
    "in_thread",
]

_LAZY = {
    "Engine": "kflow.runtime.engine",
    "RunResult": "kflow.runtime.service",
    "StepContext": "kflow.actions.base",
    "current_step": "kflow.actions.base",
    "in_thread": "kflow.actions.placement",
}


def __getattr__(name: str) -> Any:
    # Imported lazily so that `kflow.errors` or `kflow.spec` load without the runtime.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kflow' has no attribute {name!r}")
