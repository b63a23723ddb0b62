from __future__ import annotations

import asyncio

import pytest

from kflow.actions import (
    ActionResolver,
    AgentRegistry,
    PythonAction,
    ShellAction,
    StepContext,
    builtin,
)
from kflow.errors import ActionNotFound

from .conftest import MakeModule

SOURCE = """
calls = []

class Greeter:
    def __init__(self):
        calls.append("init")

    def greet(self, name):
        return {"greeting": f"hello {name}"}

def double(x):
    calls.append("double")
    return {"y": 2 * x}
"""


@pytest.fixture
def module(make_module: MakeModule) -> str:
    return make_module("resolver_targets", SOURCE)


@pytest.fixture
def resolver(module: str) -> ActionResolver:
    return ActionResolver(AgentRegistry({"kGreeter": f"{module}:Greeter"}))


def test_builtins_resolve_by_kind(resolver: ActionResolver) -> None:
    assert isinstance(resolver.resolve("shell", "shell"), ShellAction)
    assert resolver.resolve("sleep", "sleep") is builtin.sleep
    assert resolver.resolve("echo", "echo") is builtin.echo
    assert resolver.resolve("noop", "noop") is builtin.noop


def test_actions_that_return_at_once_may_be_called_inline(
    resolver: ActionResolver, module: str, context: StepContext
) -> None:
    assert resolver.inline("echo", "echo") is builtin.echo
    assert resolver.inline("noop", "noop") is builtin.noop
    assert resolver.inline("sleep", "sleep") is None  # a timer
    assert resolver.inline("shell", "shell") is None
    python = resolver.inline("python", f"{module}:double")
    assert isinstance(python, PythonAction) and not python.inline  # not proved quick yet
    assert builtin.echo.call_inline({"a": 1}, context) == {"a": 1}
    assert asyncio.run(builtin.noop({}, context)) == {}  # awaited like any other action


def test_a_python_target_resolves_to_a_python_action_that_runs(
    resolver: ActionResolver, module: str, context: StepContext
) -> None:
    action = resolver.resolve("python", f"{module}:double")
    assert isinstance(action, PythonAction)
    assert asyncio.run(action({"x": 4}, context)) == {"y": 8}


def test_an_agent_target_resolves_to_its_method(
    resolver: ActionResolver, context: StepContext
) -> None:
    action = resolver.resolve("agent", "kGreeter", "greet")
    assert asyncio.run(action({"name": "ada"}, context)) == {"greeting": "hello ada"}


def test_resolved_actions_are_cached_by_kind_target_and_method(resolver: ActionResolver) -> None:
    first = resolver.resolve("agent", "kGreeter", "greet")
    assert resolver.resolve("agent", "kGreeter", "greet") is first
    assert resolver.resolve("shell", "shell") is resolver.resolve("shell", "shell")


def test_an_agent_step_without_an_action_name_is_rejected(resolver: ActionResolver) -> None:
    with pytest.raises(ActionNotFound) as caught:
        resolver.resolve("agent", "kGreeter", None)
    assert str(caught.value) == (
        "a step that uses agent 'kGreeter' must name one of its actions with `action:`"
    )


def test_an_unknown_kind_gets_a_suggestion_and_the_list_of_kinds(
    resolver: ActionResolver,
) -> None:
    with pytest.raises(ActionNotFound) as caught:
        resolver.resolve("shel", "x")
    assert str(caught.value) == (
        "unknown action kind 'shel' (did you mean 'shell'?); "
        "kinds are: agent, python, shell, sleep, echo, noop"
    )


def test_check_returns_none_for_what_resolves(resolver: ActionResolver, module: str) -> None:
    assert resolver.check("agent", "kGreeter", "greet") is None
    assert resolver.check("python", f"{module}:double") is None
    assert resolver.check("noop", "noop") is None


def test_check_returns_the_message_and_runs_nothing(resolver: ActionResolver, module: str) -> None:
    assert resolver.check("agent", "kGreeter", "gret") == (
        "agent 'kGreeter' has no action 'gret' (did you mean 'greet'?)"
    )
    assert resolver.check("python", f"{module}:dubble") == (
        f"module '{module}' has no attribute 'dubble' (did you mean 'double'?) "
        f"(from '{module}:dubble')"
    )
    unknown = resolver.check("agent", "kNobody", "greet")
    assert unknown is not None and unknown.startswith("unknown agent 'kNobody'")
    assert resolver.check("agent", "kGreeter", None) is not None
    assert __import__(module).calls == []  # no agent created, no function called
