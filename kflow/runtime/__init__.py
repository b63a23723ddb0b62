"""The loop that joins engine, store and actions: workers, recovery, the service."""

from __future__ import annotations

from kflow.runtime.engine import Engine
from kflow.runtime.service import RunResult, Service, new_run_id
from kflow.runtime.views import RunView, StepView
from kflow.runtime.worker import Worker

__all__ = ["Engine", "RunResult", "RunView", "Service", "StepView", "Worker", "new_run_id"]
