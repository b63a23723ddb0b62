"""`kflow validate`: every problem of a workflow file, including actions that cannot be found."""

from __future__ import annotations

from pathlib import Path

from kflow.actions import ActionResolver, AgentRegistry, KflowConfig
from kflow.errors import Problem, SpecError
from kflow.plan import ActionRef, Plan, load_plan
from kflow.runtime.definitions import Environment
from kflow.spec.loader import load_spec_file


def check_workflow(path: Path, config: KflowConfig) -> tuple[Plan | None, list[Problem]]:
    """The compiled plan and all problems of the definition, located (none: it would run)."""
    try:
        plan = load_plan(path)
    except SpecError as error:
        return None, list(error.problems)
    loaded = load_spec_file(path)
    environment = Environment.from_config(config)
    environment.activate()
    resolver = ActionResolver(AgentRegistry(environment.agents))
    problems = []
    for index, step in enumerate(loaded.spec.steps):
        compiled = plan.steps[step.id]
        actions: list[tuple[ActionRef | None, str]] = [
            (compiled.action, "agent" if compiled.action.kind == "agent" else "action"),
            (compiled.fallback, "fallback"),
            (compiled.escalation, "escalation_agent"),
        ]
        for ref, key in actions:
            message = resolver.check(ref.kind, ref.target, ref.method) if ref else None
            if message:
                line, column = loaded.source.locate(("steps", index, key))
                problems.append(Problem(f"step '{step.id}': {message}", str(path), line, column))
    return plan, problems
