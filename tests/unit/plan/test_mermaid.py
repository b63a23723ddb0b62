"""Mermaid diagrams of plans."""

from __future__ import annotations

import pathlib

from kflow.plan import load_plan, to_mermaid

EXAMPLES = pathlib.Path(__file__).parents[3] / "examples"


def test_the_research_seed_draws_as_a_chain_with_a_fan_out() -> None:
    assert to_mermaid(load_plan(EXAMPLES / "research-and-summarize.yaml")) == (
        "graph TD\n"
        '    s0["planning<br/>kPlanner.decompose_research_goal"]\n'
        '    s1[["information_gathering<br/>kExecutor.execute_research_plan<br/>fan-out"]]\n'
        '    s2["synthesis<br/>kReviewer.synthesize_findings"]\n'
        '    s3["quality_check<br/>kReviewer.validate_summary"]\n'
        "    s0 --> s1\n"
        "    s1 --> s2\n"
        "    s2 --> s3\n"
        "    classDef fanout stroke-dasharray: 5 3\n"
        "    class s1 fanout\n"
    )


def test_every_dependency_is_an_edge_and_labels_are_escaped() -> None:
    plan = load_plan(
        """\
steps:
  - {id: a-1, action: "pkg.m:f"}
  - {id: b, depends_on: [a-1], inputs: {xs: [1]}, parallel: {over: xs}}
  - {id: c, depends_on: [a-1, b]}
"""
    )
    text = to_mermaid(plan)
    assert '    s0["a-1<br/>pkg.m:f"]' in text
    assert '    s1[["b<br/>noop<br/>fan-out over xs"]]' in text
    assert [line for line in text.splitlines() if "-->" in line] == [
        "    s0 --> s1",
        "    s0 --> s2",
        "    s1 --> s2",
    ]


def test_quotes_in_labels_cannot_break_the_diagram() -> None:
    plan = load_plan('steps: [{id: a, agent: "k\\"<x>", action: go}]')
    assert '["a<br/>k#quot;#lt;x#gt;.go"]' in to_mermaid(plan)
