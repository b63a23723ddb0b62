"""Turning what a step names (kind, target, method) into an action to run."""

from __future__ import annotations

from collections.abc import Callable

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


class ActionResolver:
    """Finds the action for each step once, then serves it from a cache."""

    def __init__(self, agents: AgentRegistry) -> None:
        self.agents = agents
        self._cache: dict[tuple[str, str, str | None], Action] = {}
        self._timers: dict[tuple[str, str, str | None], TimerAction | None] = {}
        self._inline: dict[tuple[str, str, str | None], InlineAction | None] = {}

    def resolve(self, kind: str, target: str, method: str | None = None) -> Action:
        """The action for `kind` ("agent", "python" or a built-in), `target` and `method`."""
        key = (kind, target, method)
        action = self._cache.get(key)
        if action is None:
            action = self._cache[key] = self._build(kind, target, method)
        return action

    def timer(self, kind: str, target: str, method: str | None = None) -> TimerAction | None:
        """The action if it only waits (the runtime then runs it as a loop timer), else None.

        Cached apart from `resolve`: it is asked at every start, and `isinstance` against
        an abstract class is not free.
        """
        key = (kind, target, method)
        try:
            return self._timers[key]
        except KeyError:
            action = self.resolve(kind, target, method)
            timer = self._timers[key] = action if isinstance(action, TimerAction) else None
            return timer

    def inline(self, kind: str, target: str, method: str | None = None) -> InlineAction | None:
        """The action if it can be called inline (when its `inline` says so), else None."""
        key = (kind, target, method)
        try:
            return self._inline[key]
        except KeyError:
            action = self.resolve(kind, target, method)
            inline = self._inline[key] = action if isinstance(action, InlineAction) else None
            return inline

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
