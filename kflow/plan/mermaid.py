"""Drawing a plan as a Mermaid flowchart."""

from __future__ import annotations

from kflow.plan.model import Plan, PlanStep


def to_mermaid(plan: Plan) -> str:
    """`graph TD` with one node per step (id and action) and an edge per dependency.

    Fan-out steps are drawn as subroutine boxes (`[[...]]`) and labelled with what they
    fan out over. Node names are `s0`, `s1`, ... because step ids may hold characters
    Mermaid reads as syntax.
    """
    names = {step_id: f"s{n}" for n, step_id in enumerate(plan.order)}
    for step_id in plan.steps:  # steps outside the order only exist in unchecked plans
        names.setdefault(step_id, f"s{len(names)}")
    lines = ["graph TD"]
    for step_id, name in names.items():
        lines.append(f"    {name}{_node(plan.steps[step_id])}")
    for step_id, name in names.items():
        for before in plan.steps[step_id].depends_on:
            lines.append(f"    {names[before]} --> {name}")
    if any(step.fan_out for step in plan.steps.values()):
        lines.append("    classDef fanout stroke-dasharray: 5 3")
        fanned = ",".join(names[s] for s in names if plan.steps[s].fan_out)
        lines.append(f"    class {fanned} fanout")
    return "\n".join(lines) + "\n"


def _node(step: PlanStep) -> str:
    label = f"{_escape(step.id)}<br/>{_escape(str(step.action))}"
    if step.fan_out is None:
        return f'["{label}"]'
    over = f" over {step.fan_out.over}" if step.fan_out.over else ""
    return f'[["{label}<br/>fan-out{_escape(over)}"]]'


def _escape(text: str) -> str:
    """Mermaid's entity codes for the characters that end or break a quoted label."""
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )
