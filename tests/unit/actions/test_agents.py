from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from kflow.actions import AgentRegistry, StepContext, current_step
from kflow.errors import ActionNotFound, ErrorKind, StepFailure

from .conftest import MakeModule

AGENT_SOURCE = """
import asyncio, threading
from kflow.actions import current_step

created = []

class Planner:
    def __init__(self):
        created.append(self)

    def decompose_research_goal(self, topic, depth="moderate"):
        return {"plan": [topic, depth], "thread": threading.get_ident()}

    async def estimate(self, plan):
        await asyncio.sleep(0)
        return {"steps": len(plan), "attempt": current_step().attempt}

    @property
    def expensive(self):
        raise AssertionError("properties are never evaluated")

    def _helper(self):
        pass

class NeedsArgs:
    def __init__(self, url):
        self.url = url

    def run(self):
        pass

class Empty:
    pass

def shout(text):
    return text.upper()
"""


@pytest.fixture
def agents_module(make_module: MakeModule) -> str:
    return make_module("demo_agents", AGENT_SOURCE)


def fake_distribution(root: Path, entry_points: dict[str, str]) -> None:
    """A real installed-package record, so importlib.metadata finds the entry points."""
    info = root / "fakeagents-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeagents\nVersion: 1.0\n")
    lines = "".join(f"{name} = {ref}\n" for name, ref in entry_points.items())
    (info / "entry_points.txt").write_text(f"[kflow.agents]\n{lines}")


def call(registry: AgentRegistry, agent: str, method: str, inputs: dict[str, Any]) -> Any:
    context = StepContext(run_id="r", step_id="s", index=None, attempt=2)
    return asyncio.run(registry.action(agent, method)(inputs, context))


def test_names_lists_configured_agents_sorted(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner", "kA": "x:Y"})
    assert registry.names() == ["kA", "kPlanner"]


def test_a_sync_method_runs_in_a_thread_with_the_inputs(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    result = call(registry, "kPlanner", "decompose_research_goal", {"topic": "bees"})
    assert result["plan"] == ["bees", "moderate"]
    assert result["thread"] != threading.get_ident()


def test_an_async_method_is_awaited_and_sees_the_step_context(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    assert call(registry, "kPlanner", "estimate", {"plan": [1, 2]}) == {"steps": 2, "attempt": 2}
    with pytest.raises(RuntimeError):
        current_step()


def test_the_agent_class_is_instantiated_once(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    registry.action("kPlanner", "estimate")
    registry.action("kPlanner", "decompose_research_goal")
    module = __import__(agents_module)
    assert len(module.created) == 1
    assert registry.instance("kPlanner") is module.created[0]


def test_a_registered_object_that_is_not_a_class_is_used_as_it_is(agents_module: str) -> None:
    registry = AgentRegistry({"kModule": agents_module + ":asyncio"})
    assert registry.instance("kModule") is asyncio


def test_a_misspelt_action_gets_a_suggestion(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    with pytest.raises(ActionNotFound) as caught:
        registry.action("kPlanner", "decompse")
    assert str(caught.value) == (
        "agent 'kPlanner' has no action 'decompse' (did you mean 'decompose_research_goal'?)"
    )


def test_an_unrelated_action_name_lists_the_agents_actions(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    with pytest.raises(ActionNotFound) as caught:
        registry.action("kPlanner", "fly")
    message = str(caught.value)
    assert message == (
        "agent 'kPlanner' has no action 'fly'; its actions are: decompose_research_goal, estimate"
    )


def test_an_agent_without_public_methods_says_so(agents_module: str) -> None:
    registry = AgentRegistry({"kEmpty": f"{agents_module}:Empty"})
    with pytest.raises(
        ActionNotFound, match="agent 'kEmpty' has no action 'run'; it has no actions"
    ):
        registry.action("kEmpty", "run")


def test_an_unknown_agent_lists_the_known_ones_and_how_to_register(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner", "kReviewer": "m:R"})
    with pytest.raises(ActionNotFound) as caught:
        registry.action("kPlaner", "decompose_research_goal")
    message = str(caught.value)
    assert "unknown agent 'kPlaner' (did you mean 'kPlanner'?)" in message
    assert "known agents: kPlanner, kReviewer" in message
    assert "[agents] in kflow.toml" in message
    assert "'kflow.agents' entry point group" in message


def test_with_no_agents_registered_the_message_says_so() -> None:
    with pytest.raises(ActionNotFound, match="unknown agent 'kX'; no agents are known; register"):
        AgentRegistry({}, entry_point_group="kflow.test.none").action("kX", "run")


def test_an_agent_whose_module_is_missing_names_the_agent_and_the_reference() -> None:
    registry = AgentRegistry({"kGhost": "ghost_module_xyz:Ghost"})
    with pytest.raises(ActionNotFound) as caught:
        registry.action("kGhost", "run")
    message = str(caught.value)
    assert message.startswith("agent 'kGhost' is registered as 'ghost_module_xyz:Ghost', but ")
    assert "module 'ghost_module_xyz' not found" in message


def test_an_agent_whose_constructor_fails_says_agents_take_no_arguments(
    agents_module: str,
) -> None:
    registry = AgentRegistry({"kNeeds": f"{agents_module}:NeedsArgs"})
    with pytest.raises(ActionNotFound) as caught:
        registry.action("kNeeds", "run")
    message = str(caught.value)
    assert f"agent 'kNeeds' could not be created from '{agents_module}:NeedsArgs'" in message
    assert "TypeError" in message
    assert "agent classes are created with no arguments" in message


def test_check_finds_problems_without_creating_the_agent(agents_module: str) -> None:
    registry = AgentRegistry({"kNeeds": f"{agents_module}:NeedsArgs"})
    registry.check("kNeeds", "run")  # the constructor would fail, but check never calls it
    with pytest.raises(ActionNotFound, match="has no action 'walk'"):
        registry.check("kNeeds", "walk")
    assert registry.actions_of("kNeeds") == ["run"]


def test_bad_inputs_to_an_agent_action_name_the_agent_and_action(agents_module: str) -> None:
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    with pytest.raises(StepFailure) as caught:
        call(registry, "kPlanner", "decompose_research_goal", {"topik": "bees"})
    assert caught.value.kind is ErrorKind.VALIDATION
    message = caught.value.message
    assert "agent 'kPlanner' action 'decompose_research_goal' cannot be called" in message
    assert "missing required parameter 'topic'" in message
    assert "unexpected input 'topik' (did you mean 'topic'?)" in message


def test_agents_come_from_entry_points_of_installed_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agents_module: str
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, {"kSearcher": f"{agents_module}:Planner"})
    monkeypatch.syspath_prepend(str(site))
    registry = AgentRegistry({})
    assert "kSearcher" in registry.names()
    assert registry.target("kSearcher") == f"{agents_module}:Planner"
    assert call(registry, "kSearcher", "estimate", {"plan": [1]})["steps"] == 1


def test_the_config_wins_over_an_entry_point_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agents_module: str
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, {"kPlanner": f"{agents_module}:Empty"})
    monkeypatch.syspath_prepend(str(site))
    registry = AgentRegistry({"kPlanner": f"{agents_module}:Planner"})
    assert registry.target("kPlanner") == f"{agents_module}:Planner"
