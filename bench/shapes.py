"""Small workflow shapes built as specs: chains, fan-outs and layers of one action."""

from __future__ import annotations

from typing import Any

from kflow.spec.models import WorkflowSpec


def step(step_id: str, action: str, depends_on: list[str], **inputs: Any) -> dict[str, Any]:
    """One step of a spec, as a dict."""
    found: dict[str, Any] = {"id": step_id, "action": action}
    if depends_on:
        found["depends_on"] = depends_on
    if inputs:
        found["inputs"] = inputs
    return found


def chain_spec(length: int, action: str) -> WorkflowSpec:
    """`length` steps, each depending on the one before."""
    steps = [step(f"s{i}", action, [f"s{i - 1}"] if i else []) for i in range(length)]
    return WorkflowSpec.model_validate({"id": f"chain-{length}", "steps": steps})


def fanout_spec(width: int, action: str) -> WorkflowSpec:
    """One step, `width` steps that depend on it, and one step that depends on them all."""
    middle = [f"m{i}" for i in range(width)]
    steps = [
        step("source", action, []),
        *(step(m, action, ["source"]) for m in middle),
        step("sink", action, middle),
    ]
    return WorkflowSpec.model_validate({"id": f"fanout-{width}", "steps": steps})


def layers_spec(layers: int, width: int, action: str, **inputs: Any) -> WorkflowSpec:
    """`layers` layers of `width` steps; each step depends on the whole previous layer."""
    steps = []
    for layer in range(layers):
        previous = [f"l{layer - 1}_{i}" for i in range(width)] if layer else []
        steps += [step(f"l{layer}_{i}", action, previous, **inputs) for i in range(width)]
    return WorkflowSpec.model_validate({"id": f"layers-{layers}x{width}", "steps": steps})
