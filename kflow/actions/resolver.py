"""Turning what a step names (kind, target, method) into an action to run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kflow.actions import builtin
from kflow.actions.agents import AgentRegistry
from kflow.actions.base import Action, InlineAction, TimerAction
from kflow.actions.python import PythonAction, import_callable
from kflow.actions.shell import ShellAction
from kflow.errors import ActionNotFound
from kflow.spec.suggest import did_you_mean

_BUILTINS: dict[str, Callable[[], Action]] = {
    "shell": ShellAction,
    "sleep": lambda: builtin.sleep,
    "echo": lambda: builtin.echo,
    "noop": lambda: builtin.noop,
}
KINDS = ("agent", "python", *_BUILTINS)


@dataclass(frozen=True, slots=True)
class _Found:
    """An action, and how the runtime may run it."""

    action: Action
    timer: TimerAction | None
    """The action if it only waits (the runtime then runs it as a loop timer)."""
    inline: InlineAction | None
    """The action if it can be called inline (when its `inline` says so)."""


class ActionResolver:
    """Finds the action for each step once, then serves it from a cache."""

    def __init__(self, agents: AgentRegistry) -> None:
        self.agents = agents
        # How each action may run is worked out once: `timer` and `inline` are asked at
        # every start, and `isinstance` against an abstract class is not free.
        self._found: dict[tuple[str, str, str | None], _Found] = {}

    def _find(self, kind: str, target: str, method: str | None) -> _Found:
        key = (kind, target, method)
        found = self._found.get(key)
        if found is None:
            action = self._build(kind, target, method)
            timer = action if isinstance(action, TimerAction) else None
            inline = action if isinstance(action, InlineAction) else None
            found = self._found[key] = _Found(action, timer, inline)
        return found

    def resolve(self, kind: str, target: str, method: str | None = None) -> Action:
        """The action for `kind` ("agent", "python" or a built-in), `target` and `method`."""
        return self._find(kind, target, method).action

    def timer(self, kind: str, target: str, method: str | None = None) -> TimerAction | None:
        """The action if it only waits (the runtime then runs it as a loop timer), else None."""
        return self._find(kind, target, method).timer

    def inline(self, kind: str, target: str, method: str | None = None) -> InlineAction | None:
        """The action if it can be called inline (when its `inline` says so), else None."""
        return self._find(kind, target, method).inline

    def check(self, kind: str, target: str, method: str | None = None) -> str | None:
        """Why this action cannot be resolved, or None if it can; runs no action."""
        try:
            if kind == "agent":
                self.agents.check(target, _agent_method(target, method))
            elif kind == "python":
                import_callable(target)
            else:
                _builtin(kind)
        except ActionNotFound as exc:
            return str(exc)
        return None

    def _build(self, kind: str, target: str, method: str | None) -> Action:
        if kind == "agent":
            return self.agents.action(target, _agent_method(target, method))
        if kind == "python":
            return PythonAction(import_callable(target), name=f"function '{target}'")
        return _builtin(kind)()


def _agent_method(agent: str, method: str | None) -> str:
    if not method:
        raise ActionNotFound(
            f"a step that uses agent '{agent}' must name one of its actions with `action:`"
        )
    return method


def _builtin(kind: str) -> Callable[[], Action]:
    try:
        return _BUILTINS[kind]
    except KeyError:
        raise ActionNotFound(
            f"unknown action kind '{kind}'{did_you_mean(kind, KINDS)}; "
            f"kinds are: {', '.join(KINDS)}"
        ) from None
