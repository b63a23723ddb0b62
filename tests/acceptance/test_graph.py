"""`kflow graph FILE`: the dependency graph as Mermaid text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.acceptance.conftest import Kflow

pytestmark = pytest.mark.timeout(30)

NODE = re.compile(r'^\s+(s\d+)\[{1,2}"([^"<]+)<br/>([^"]*)"\]{1,2}$')
EDGE = re.compile(r"^\s+(s\d+) --> (s\d+)$")


def parse(mermaid: str) -> tuple[dict[str, str], set[tuple[str, str]], dict[str, str]]:
    """Step id by node name, the edges as step id pairs, and each step's label tail."""
    steps: dict[str, str] = {}
    labels: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    for line in mermaid.splitlines():
        if node := NODE.match(line):
            steps[node.group(1)] = node.group(2)
            labels[node.group(2)] = node.group(3)
        elif edge := EDGE.match(line):
            edges.add((steps[edge.group(1)], steps[edge.group(2)]))
    return steps, edges, labels


def test_graph_prints_a_mermaid_flowchart_with_an_edge_per_dependency(
    kflow: Kflow, corpus: Path
) -> None:
    result = kflow("graph", corpus / "diamond.yaml")
    assert result.code == 0, result
    assert result.stdout.startswith("graph TD\n")
    steps, edges, labels = parse(result.stdout)
    assert sorted(steps.values()) == ["join", "left", "right", "start"]
    assert edges == {("start", "left"), ("start", "right"), ("left", "join"), ("right", "join")}
    assert labels["right"] == "echo"


def test_graph_of_the_example_follows_references_and_marks_the_fan_out(
    kflow: Kflow, examples: Path
) -> None:
    result = kflow("graph", examples / "research-and-summarize.yaml")
    assert result.code == 0, result
    steps, edges, labels = parse(result.stdout)
    assert edges == {
        ("planning", "information_gathering"),
        ("information_gathering", "synthesis"),
        ("synthesis", "quality_check"),
    }
    assert labels["planning"] == "kPlanner.decompose_research_goal"
    assert "fan-out" in labels["information_gathering"]
    fan_out_node = next(name for name, step in steps.items() if step == "information_gathering")
    assert f"class {fan_out_node} fanout" in result.stdout


def test_graph_of_an_invalid_workflow_lists_its_problems_and_exits_2(
    kflow: Kflow, corpus: Path
) -> None:
    file = corpus / "invalid.yaml"
    result = kflow("graph", file)
    assert result.code == 2, result
    assert result.stdout == ""
    assert "the workflow definition has 3 problems" in result.stderr
    assert f"{file}:12:20: step 'report': unknown step 'ghost'" in result.stderr
