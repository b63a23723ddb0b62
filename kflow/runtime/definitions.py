"""Rebuilding what a run needs from its first event: the plan and where its actions live."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from kflow.actions import ActionResolver, AgentRegistry, KflowConfig
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.plan import Plan, compile_plan
from kflow.spec.models import WorkflowSpec


@dataclass(frozen=True, slots=True)
class Environment:
    """Where a run's actions are found; stored in `RunCreated` so recovery finds them too."""

    agents: Mapping[str, str]
    python_paths: tuple[str, ...]

    @classmethod
    def from_config(cls, config: KflowConfig) -> Environment:
        """The environment a config file describes."""
        paths = tuple(str(p) for p in config.python_paths)
        if config.source is not None:
            paths = (str(config.source.parent), *paths)
        return cls(dict(config.agents), tuple(dict.fromkeys(paths)))

    @classmethod
    def from_event(cls, created: ev.RunCreated) -> Environment:
        """The environment recorded when the run was created."""
        data = created.environment
        return cls(dict(data.get("agents", {})), tuple(data.get("python_paths", ())))

    def to_json(self) -> dict[str, Any]:
        """The form stored in the journal."""
        return {"agents": dict(self.agents), "python_paths": list(self.python_paths)}

    def activate(self) -> None:
        """Make the environment's python paths importable (idempotent)."""
        for path in reversed(self.python_paths):
            if path not in sys.path and Path(path).is_dir():
                sys.path.insert(0, path)


class Definitions:
    """Caches of compiled plans and action resolvers, shared by all runs of a process.

    `load` fetches a workflow spec (JSON) by digest: a run's `RunCreated` names it.
    """

    def __init__(self, load: Callable[[str], bytes]) -> None:
        self._load = load
        self._plans: dict[str, Plan] = {}
        self._resolvers: dict[bytes, ActionResolver] = {}

    def remember(self, plan: Plan) -> None:
        """Keep an already compiled plan so runs of it skip compiling again."""
        self._plans.setdefault(plan.digest, plan)

    def plan(self, created: ev.RunCreated) -> Plan:
        """The compiled plan of a run."""
        plan = self._plans.get(created.digest)
        if plan is None:
            spec = created.inline_definition or self._load(created.digest)
            plan = compile_plan(WorkflowSpec.model_validate_json(spec))
            self._plans[created.digest] = plan
        return plan

    def machine(self, events: list[ev.AnyEvent]) -> RunMachine:
        """The engine state of a run, folded from its journal."""
        created = events[0]
        assert isinstance(created, ev.RunCreated)
        machine = RunMachine(self.plan(created), created)
        machine.apply_all(events[1:])
        return machine

    def resolver(self, created: ev.RunCreated) -> ActionResolver:
        """The action resolver for the environment a run was created in."""
        # Runs created together share an environment: one cheap canonical key per run
        # (json.dumps of a rebuilt Environment was a fifth of adopting 1,000 runs).
        key = msgspec.json.encode(created.environment, order="sorted")
        resolver = self._resolvers.get(key)
        if resolver is None:
            environment = Environment.from_event(created)
            environment.activate()
            resolver = ActionResolver(AgentRegistry(environment.agents))
            self._resolvers[key] = resolver
        return resolver
