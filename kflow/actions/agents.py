"""Agents: named objects whose public methods are actions (`agent: kPlanner`, `action: ...`)."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Mapping
from importlib import metadata

from kflow.actions.base import Action
from kflow.actions.python import PythonAction, import_object
from kflow.errors import ActionNotFound
from kflow.spec.suggest import did_you_mean

ENTRY_POINT_GROUP = "kflow.agents"


class AgentRegistry:
    """Maps agent names to `module:Class` (or `module:object`) and builds their actions.

    Names come from the config's `[agents]` table and from the `kflow.agents` entry
    point group; the config wins when both name the same agent. Each agent class is
    instantiated once, on first use, with no arguments.
    """

    def __init__(
        self, mapping: Mapping[str, str], *, entry_point_group: str = ENTRY_POINT_GROUP
    ) -> None:
        self._configured = dict(mapping)
        self._group = entry_point_group
        self._targets: dict[str, str] | None = None  # entry points are read on first use
        self._instances: dict[str, object] = {}

    def names(self) -> list[str]:
        """Every known agent name, sorted."""
        return sorted(self._all_targets())

    def target(self, agent: str) -> str:
        """The `module:Class` reference registered for `agent`."""
        if agent in self._configured:  # config wins, and needs no scan of installed packages
            return self._configured[agent]
        targets = self._all_targets()
        if agent not in targets:
            raise ActionNotFound(self._unknown_agent(agent, targets))
        return targets[agent]

    def instance(self, agent: str) -> object:
        """The agent's object: its class instantiated once, or the registered object itself."""
        if agent not in self._instances:
            self._instances[agent] = self._create(agent, self._load(agent))
        return self._instances[agent]

    def action(self, agent: str, method: str) -> Action:
        """The agent's method `method`, wrapped as an action."""
        owner = self.instance(agent)
        self._require_method(agent, owner, method)
        return PythonAction(getattr(owner, method), name=f"agent '{agent}' action '{method}'")

    def check(self, agent: str, method: str) -> None:
        """Raise ActionNotFound unless `agent` exists and has `method`; creates no instance."""
        self._require_method(agent, self._owner(agent), method)

    def actions_of(self, agent: str) -> list[str]:
        """The public method names of `agent`, which steps may use as actions."""
        return _public_methods(self._owner(agent))

    def _owner(self, agent: str) -> object:
        # The instance if there is one already; else the class, which has the same methods.
        return self._instances[agent] if agent in self._instances else self._load(agent)

    def _all_targets(self) -> dict[str, str]:
        if self._targets is None:
            self._targets = _entry_points(self._group, tuple(sys.path)) | self._configured
        return self._targets

    def _load(self, agent: str) -> object:
        ref = self.target(agent)
        try:
            return import_object(ref)
        except ActionNotFound as exc:
            raise ActionNotFound(f"agent '{agent}' is registered as '{ref}', but {exc}") from None

    def _create(self, agent: str, target: object) -> object:
        if not inspect.isclass(target):
            return target  # a registered object is used as it is
        try:
            return target()
        except Exception as exc:
            raise ActionNotFound(
                f"agent '{agent}' could not be created from '{self.target(agent)}': "
                f"{type(exc).__name__}: {exc}; agent classes are created with no arguments"
            ) from exc

    def _require_method(self, agent: str, owner: object, method: str) -> None:
        if _is_public_method(owner, method):  # without listing them all (`dir` is slow)
            return
        methods = _public_methods(owner)
        hint = did_you_mean(method, methods)
        if not hint:
            hint = f"; its actions are: {', '.join(methods)}" if methods else "; it has no actions"
        raise ActionNotFound(f"agent '{agent}' has no action '{method}'{hint}")

    def _unknown_agent(self, agent: str, targets: Mapping[str, str]) -> str:
        known = f"known agents: {', '.join(sorted(targets))}" if targets else "no agents are known"
        return (
            f"unknown agent '{agent}'{did_you_mean(agent, targets)}; {known}; register one "
            f'under [agents] in kflow.toml ({agent} = "mymodule:MyAgent") or in the '
            f"'{self._group}' entry point group of an installed package"
        )


def _public_methods(owner: object) -> list[str]:
    return [name for name in dir(owner) if _is_public_method(owner, name)]


def _is_public_method(owner: object, name: str) -> bool:
    if name.startswith("_"):
        return False
    # Looked up statically so that listing actions never runs a property's code.
    value = inspect.getattr_static(owner, name, None)
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    return callable(value) and not inspect.isclass(value)


@functools.cache
def _entry_points(group: str, path: tuple[str, ...]) -> dict[str, str]:
    """Agents registered by installed packages, read once per `sys.path` (it scans them all)."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=group)}
