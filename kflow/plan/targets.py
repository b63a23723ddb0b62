"""Resolving what a step runs (`agent`/`action`, `fallback`) into an ActionRef."""

from __future__ import annotations

import re

from kflow.plan.model import BUILTIN_ACTIONS, ActionKind, ActionRef
from kflow.plan.reporter import Reporter
from kflow.spec import suggest
from kflow.spec.models import StepSpec
from kflow.spec.source import Path

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
PYTHON_TARGET = re.compile(rf"{_DOTTED}:{_DOTTED}")
METHOD = re.compile(r"[A-Za-z_]\w*")
_BUILTINS = ", ".join(sorted(BUILTIN_ACTIONS))
NOOP = ActionRef("noop", "noop")
_BUILTIN_KINDS: dict[str, ActionKind] = {
    "shell": "shell",
    "sleep": "sleep",
    "echo": "echo",
    "noop": "noop",
}
assert set(_BUILTIN_KINDS) == BUILTIN_ACTIONS


def step_action(step: StepSpec, path: Path, report: Reporter) -> ActionRef:
    """What the step runs; a step with neither `agent` nor `action` is a no-op (004 tasks)."""
    if step.agent is not None:
        if step.action is None:
            report.add(
                path,
                f"step {step.id!r} names agent {step.agent!r} but no action",
                f"add `action: <method of {step.agent}>`",
            )
            return NOOP
        return _agent_method(step.agent, step.action, (*path, "action"), report)
    if step.action is None:
        return NOOP
    if ":" in step.action:
        return _python(step.action, (*path, "action"), report)
    if step.action in _BUILTIN_KINDS:
        return ActionRef(_BUILTIN_KINDS[step.action], step.action)
    report.add(
        (*path, "action"),
        f"step {step.id!r}: unknown action {step.action!r}"
        f"{suggest.did_you_mean(step.action, BUILTIN_ACTIONS)}; use module:function, "
        f"an agent, or one of {_BUILTINS.replace(', ', '/')}",
        "to run an agent's method, add `agent: <name>` to the step",
    )
    return NOOP


def fallback_action(step: StepSpec, fallback: str, path: Path, report: Reporter) -> ActionRef:
    """The action run when the step fails for good; a bare name is a method of the step's agent."""
    if ":" in fallback:
        return _python(fallback, path, report)
    if fallback in _BUILTIN_KINDS:
        return ActionRef(_BUILTIN_KINDS[fallback], fallback)
    if step.agent is not None:
        return _agent_method(step.agent, fallback, path, report)
    report.add(
        path,
        f"step {step.id!r}: fallback {fallback!r} is not an action",
        f"use module:function, one of {_BUILTINS}, or give the step an `agent:` whose method it is",
    )
    return NOOP


def _agent_method(agent: str, method: str, path: Path, report: Reporter) -> ActionRef:
    if METHOD.fullmatch(method) is None:
        report.add(path, f"{method!r} is not a method name of agent {agent!r}")
    return ActionRef("agent", agent, method)


def _python(target: str, path: Path, report: Reporter) -> ActionRef:
    if PYTHON_TARGET.fullmatch(target) is None:
        report.add(
            path,
            f"{target!r} is not a Python function reference",
            "write it as package.module:function",
        )
    return ActionRef("python", target)
