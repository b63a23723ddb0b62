"""The loop that joins engine, store and actions: workers, recovery, the service."""

from .engine import Engine
from .service import RunResult, Service, new_run_id
from .views import RunView, StepView
from .worker import Worker

__all__ = ["Engine", "RunResult", "RunView", "Service", "StepView", "Worker", "new_run_id"]
