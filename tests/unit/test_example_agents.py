"""The example agents of seed 002's research-and-summarize workflow, driven through kflow."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kflow.actions import ActionResolver, AgentRegistry, StepContext, load_config
from kflow.errors import ErrorKind, StepFailure

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOPIC = "urban beekeeping"


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[ActionResolver]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("KFLOW_EXAMPLE_FAIL_ONCE", raising=False)
    config = load_config(None, [EXAMPLES])
    config.activate()
    yield ActionResolver(AgentRegistry(config.agents))
    sys.modules.pop("agents", None)


def call(
    resolver: ActionResolver,
    agent: str,
    action: str,
    inputs: dict[str, Any],
    *,
    attempt: int = 1,
    index: int | None = None,
) -> Any:
    context = StepContext(run_id="run-1", step_id=action, index=index, attempt=attempt)
    return asyncio.run(resolver.resolve("agent", agent, action)(inputs, context))


def plan_for(resolver: ActionResolver, depth: str) -> list[dict[str, Any]]:
    result = call(resolver, "kPlanner", "decompose_research_goal", {"topic": TOPIC, "depth": depth})
    plan: list[dict[str, Any]] = result["plan"]
    return plan


def research(resolver: ActionResolver, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The information_gathering step fanned out: one call per plan item, concurrently."""

    async def fan_out() -> list[dict[str, Any]]:
        action = resolver.resolve("agent", "kExecutor", "execute_research_plan")
        calls = [
            action({"plan": item}, StepContext("run-1", "gather", i, 1))
            for i, item in enumerate(plan)
        ]
        return list(await asyncio.gather(*calls))

    return asyncio.run(fan_out())


def test_the_config_registers_every_agent_and_action_the_workflow_uses(
    resolver: ActionResolver,
) -> None:
    assert resolver.agents.names() == ["kCoordinator", "kExecutor", "kPlanner", "kReviewer"]
    used = [
        ("kPlanner", "decompose_research_goal"),
        ("kExecutor", "execute_research_plan"),
        ("kExecutor", "manual_research"),
        ("kReviewer", "synthesize_findings"),
        ("kReviewer", "validate_summary"),
        ("kCoordinator", "escalate"),
    ]
    assert [resolver.check("agent", agent, action) for agent, action in used] == [None] * 6


@pytest.mark.parametrize(("depth", "count"), [("shallow", 2), ("moderate", 3), ("deep", 5)])
def test_the_planner_asks_more_questions_the_deeper_the_research(
    resolver: ActionResolver, depth: str, count: int
) -> None:
    plan = plan_for(resolver, depth)
    assert len(plan) == count
    assert [item["id"] for item in plan] == [f"q{i}" for i in range(1, count + 1)]
    assert all(TOPIC in item["question"] and item["focus"] for item in plan)


def test_the_planner_rejects_an_unknown_depth(resolver: ActionResolver) -> None:
    with pytest.raises(StepFailure) as caught:
        call(resolver, "kPlanner", "decompose_research_goal", {"topic": TOPIC, "depth": "huge"})
    assert caught.value.kind is ErrorKind.VALIDATION
    assert caught.value.message == "unknown depth 'huge'; use one of shallow, moderate, deep"


def test_the_whole_workflow_produces_a_validated_sourced_summary(
    resolver: ActionResolver,
) -> None:
    plan = plan_for(resolver, "moderate")
    gathered = research(resolver, plan)
    summary = call(
        resolver,
        "kReviewer",
        "synthesize_findings",
        {"data": [g["data"] for g in gathered], "sources": [g["sources"] for g in gathered]},
    )["summary"]
    assert summary["title"] == f"Research summary: {TOPIC}"
    assert [s["question"] for s in summary["sections"]] == [p["question"] for p in plan]
    assert summary["source_count"] == 6
    assert all(s["sources"] for s in summary["sections"])
    checked = call(
        resolver,
        "kReviewer",
        "validate_summary",
        {"summary": summary, "original_topic": TOPIC},
    )
    assert checked["summary"]["validated"] is True
    assert 0.9 <= checked["score"] <= 1.0


def test_the_executor_takes_the_whole_plan_as_well_as_one_item(resolver: ActionResolver) -> None:
    plan = plan_for(resolver, "shallow")
    whole = call(resolver, "kExecutor", "execute_research_plan", {"plan": plan})
    one_by_one = research(resolver, plan)
    assert whole["data"] == {k: v for g in one_by_one for k, v in g["data"].items()}
    assert whole["sources"] == [s for g in one_by_one for s in g["sources"]]
    assert all(
        s["url"].startswith("https://example.org/urban-beekeeping/") for s in whole["sources"]
    )


def test_research_results_are_deterministic(resolver: ActionResolver) -> None:
    plan = plan_for(resolver, "deep")
    assert research(resolver, plan) == research(resolver, plan)


def test_manual_research_is_the_same_shape_and_marked_manual(resolver: ActionResolver) -> None:
    plan = plan_for(resolver, "shallow")
    manual = call(resolver, "kExecutor", "manual_research", {"plan": plan})
    assert set(manual) == {"data", "sources"}
    assert {f["method"] for f in manual["data"].values()} == {"manual"}
    assert {s["method"] for s in manual["sources"]} == {"manual"}


def test_synthesis_flattens_nested_lists_and_drops_duplicate_sources(
    resolver: ActionResolver,
) -> None:
    gathered = research(resolver, plan_for(resolver, "shallow"))
    data = [[gathered[0]["data"]], [[gathered[1]["data"]]]]
    sources = [gathered[0]["sources"], [gathered[1]["sources"], gathered[0]["sources"]]]
    result = call(resolver, "kReviewer", "synthesize_findings", {"data": data, "sources": sources})
    assert result["summary"]["question_count"] == 2
    assert result["summary"]["source_count"] == 4


def test_synthesis_without_findings_is_a_validation_failure(resolver: ActionResolver) -> None:
    with pytest.raises(StepFailure) as caught:
        call(resolver, "kReviewer", "synthesize_findings", {"data": [], "sources": []})
    assert caught.value.kind is ErrorKind.VALIDATION
    assert "there are no findings to synthesize" in caught.value.message


def test_an_off_topic_summary_scores_lower(resolver: ActionResolver) -> None:
    gathered = research(resolver, plan_for(resolver, "shallow"))
    summary = call(
        resolver,
        "kReviewer",
        "synthesize_findings",
        {"data": [g["data"] for g in gathered], "sources": [g["sources"] for g in gathered]},
    )["summary"]
    on = call(
        resolver, "kReviewer", "validate_summary", {"summary": summary, "original_topic": TOPIC}
    )
    off = call(
        resolver, "kReviewer", "validate_summary", {"summary": summary, "original_topic": "tax law"}
    )
    assert off["score"] < on["score"]
    assert off["summary"]["checks"]["on_topic"] is False


def test_the_coordinator_returns_a_safe_summary_and_records_the_escalation(
    resolver: ActionResolver,
) -> None:
    inputs = {
        "step": "synthesis",
        "action": "synthesize_findings",
        "inputs": {"data": [], "sources": [[{"url": "https://example.org/a"}]]},
        "error": {"kind": "validation", "message": "there are no findings to synthesize"},
    }
    result = call(resolver, "kCoordinator", "escalate", inputs)
    assert result["escalated"] is True
    assert result["escalated_to"] == "kCoordinator"
    assert result["summary"]["escalated"] is True
    assert result["summary"]["source_count"] == 1
    assert "there are no findings to synthesize" in result["summary"]["note"]
    coordinator: Any = resolver.agents.instance("kCoordinator")
    assert coordinator.escalations == [
        {
            "step": "synthesis",
            "action": "synthesize_findings",
            "reason": "there are no findings to synthesize",
        }
    ]


def test_fail_once_makes_only_the_first_attempt_fail_transiently(
    resolver: ActionResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFLOW_EXAMPLE_FAIL_ONCE", "1")
    item = plan_for(resolver, "shallow")[0]
    with pytest.raises(StepFailure) as caught:
        call(resolver, "kExecutor", "execute_research_plan", {"plan": item}, attempt=1)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "KFLOW_EXAMPLE_FAIL_ONCE" in caught.value.message
    retried = call(resolver, "kExecutor", "execute_research_plan", {"plan": item}, attempt=2)
    assert list(retried["data"]) == ["q1"]
