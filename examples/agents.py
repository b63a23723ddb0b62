"""Example agents for the seeds' `research-and-summarize` workflow: offline and deterministic.

`kflow.toml` beside this file registers them as kPlanner, kExecutor, kReviewer and
kCoordinator. Set KFLOW_EXAMPLE_FAIL_ONCE=1 to make the first attempt of each research
task fail with a transient error, to watch kflow retry it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from kflow.actions import current_step
from kflow.errors import ErrorKind, StepFailure

DEPTHS = {"shallow": 2, "moderate": 3, "deep": 5}
_ANGLES = (
    ("background", "What is {topic}, and where does it come from?"),
    ("current_state", "What is the current state of {topic}?"),
    ("challenges", "What are the main open problems and debates in {topic}?"),
    ("applications", "Where is {topic} used in practice, and with what results?"),
    ("outlook", "Where is {topic} heading over the next five years?"),
)
_FINDINGS = (
    "Most sources on {focus} agree that {topic} grew out of a handful of practical needs.",
    "Reported results for {topic} ({focus}) vary with scale; small studies are optimistic.",
    "Practitioners describe {focus} of {topic} as {adjective} rather than settled.",
)
_ADJECTIVES = ("evolving", "contested", "maturing", "fragmented", "promising")


class Planner:
    """kPlanner: breaks a research goal into sub-questions."""

    def decompose_research_goal(self, topic: str, depth: str = "moderate") -> dict[str, Any]:
        """Return {"plan": [...]}: 2, 3 or 5 sub-questions for shallow, moderate or deep."""
        topic = topic.strip()
        if not topic:
            raise StepFailure("the research topic is empty; give a topic", ErrorKind.VALIDATION)
        if depth not in DEPTHS:
            raise StepFailure(
                f"unknown depth {depth!r}; use one of {', '.join(DEPTHS)}", ErrorKind.VALIDATION
            )
        plan = [
            {"id": f"q{i}", "topic": topic, "focus": focus, "question": text.format(topic=topic)}
            for i, (focus, text) in enumerate(_ANGLES[: DEPTHS[depth]], start=1)
        ]
        return {"plan": plan}


class Executor:
    """kExecutor: researches the questions of a plan (one item, or the whole list)."""

    async def execute_research_plan(self, plan: Any) -> dict[str, Any]:
        """Return {"data": {question id: findings}, "sources": [...]} for the plan's items."""
        _maybe_fail_once()
        items = _plan_items(plan)
        await asyncio.sleep(0.05)  # stands in for calls to search services
        return _research(items, method="automated")

    async def manual_research(self, plan: Any) -> dict[str, Any]:
        """The fallback: the same shape as execute_research_plan, marked as manual."""
        items = _plan_items(plan)
        await asyncio.sleep(0.01)
        return _research(items, method="manual")


class Reviewer:
    """kReviewer: turns findings into a summary and checks its quality."""

    def synthesize_findings(self, data: Any, sources: Any) -> dict[str, Any]:
        """Return {"summary": {...}} from findings and sources (fan-out lists are flattened)."""
        findings = _merge_findings(data)
        if not findings:
            raise StepFailure(
                "there are no findings to synthesize; the research step returned no data",
                ErrorKind.VALIDATION,
            )
        all_sources = _unique_sources(sources)
        sections = [
            _section(question_id, findings[question_id], all_sources)
            for question_id in sorted(findings, key=_natural)
        ]
        topic = next(iter(findings.values())).get("topic", "")
        methods = sorted({str(f.get("method", "automated")) for f in findings.values()})
        confidence = sum(float(s["confidence"]) for s in sections) / len(sections)
        summary = {
            "title": f"Research summary: {topic}",
            "topic": topic,
            "sections": sections,
            "question_count": len(sections),
            "source_count": len(all_sources),
            "sources": all_sources,
            "confidence": round(confidence, 2),
            "methods": methods,
        }
        return {"summary": summary}

    def validate_summary(self, summary: Any, original_topic: str) -> dict[str, Any]:
        """Return {"summary": summary marked validated, "score": 0..1} with the checks made."""
        if not isinstance(summary, Mapping):
            raise StepFailure(
                f"expected the summary to be a mapping, got {type(summary).__name__}",
                ErrorKind.VALIDATION,
            )
        sections = [s for s in summary.get("sections", []) if isinstance(s, Mapping)]
        sourced = sum(1 for s in sections if s.get("sources"))
        checks = {
            "has_sections": bool(sections),
            "sourced_fraction": round(sourced / len(sections), 2) if sections else 0.0,
            "on_topic": original_topic.lower() in str(summary.get("title", "")).lower(),
            "confidence": float(summary.get("confidence", 0.0)),
        }
        score = (
            0.4 * checks["has_sections"]
            + 0.3 * checks["sourced_fraction"]
            + 0.2 * checks["on_topic"]
            + 0.1 * checks["confidence"]
        )
        validated = {**summary, "validated": True, "checks": checks}
        return {"summary": validated, "score": round(min(max(score, 0.0), 1.0), 2)}


class Coordinator:
    """kCoordinator: takes over a failed step and returns a safe fallback result."""

    def __init__(self) -> None:
        self.escalations: list[dict[str, Any]] = []

    def escalate(self, step: str, action: str, inputs: Any, error: Any) -> dict[str, Any]:
        """Record the escalation and return a minimal result the workflow can continue with."""
        reason = _reason(error)
        record = {"step": step, "action": action, "reason": reason}
        self.escalations.append(record)
        given = inputs if isinstance(inputs, Mapping) else {}
        source_count = len(_unique_sources(given.get("sources", [])))
        summary = {
            "title": f"Escalated: step '{step}' could not finish",
            "sections": [],
            "question_count": 0,
            "source_count": source_count,
            "escalated": True,
            "note": f"kCoordinator took over after {action} failed: {reason}",
        }
        return {**record, "escalated": True, "escalated_to": "kCoordinator", "summary": summary}


def _maybe_fail_once() -> None:
    if os.environ.get("KFLOW_EXAMPLE_FAIL_ONCE") != "1":
        return
    try:
        attempt = current_step().attempt
    except RuntimeError:  # called outside a kflow step, e.g. from a REPL
        return
    if attempt == 1:
        raise StepFailure(
            "search service did not answer (simulated by KFLOW_EXAMPLE_FAIL_ONCE=1)",
            ErrorKind.TRANSIENT,
        )


def _plan_items(plan: Any) -> list[Mapping[str, Any]]:
    if isinstance(plan, Mapping) and "plan" in plan:
        plan = plan["plan"]  # the planner's whole result was passed through
    items = [plan] if isinstance(plan, Mapping) else list(_flatten(plan))
    for item in items:
        if not isinstance(item, Mapping) or "id" not in item or "question" not in item:
            raise StepFailure(
                f"a plan item must be a mapping with 'id' and 'question', got {item!r}",
                ErrorKind.VALIDATION,
            )
    return items


def _research(items: list[Mapping[str, Any]], *, method: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    sources: list[dict[str, Any]] = []
    for item in items:
        topic, focus = str(item.get("topic", "")), str(item.get("focus", "general"))
        digest = hashlib.sha256(f"{topic}|{item['question']}".encode()).digest()
        adjective = _ADJECTIVES[digest[0] % len(_ADJECTIVES)]
        words = {"topic": topic, "focus": focus.replace("_", " "), "adjective": adjective}
        data[str(item["id"])] = {
            "topic": topic,
            "focus": focus,
            "question": item["question"],
            "findings": [text.format(**words) for text in _FINDINGS],
            "confidence": round(0.6 + (digest[1] % 36) / 100, 2),
            "method": method,
        }
        for n, kind in enumerate(("survey", "case-study"), start=1):
            sources.append(
                {
                    "title": f"{topic}: {focus.replace('_', ' ')} ({kind})",
                    "url": f"https://example.org/{_slug(topic)}/{focus}/{n}",
                    "question_id": str(item["id"]),
                    "method": method,
                }
            )
    return {"data": data, "sources": sources}


def _merge_findings(data: Any) -> dict[str, Mapping[str, Any]]:
    merged: dict[str, Mapping[str, Any]] = {}
    for part in _flatten(data):
        if isinstance(part, Mapping):
            merged.update({str(k): v for k, v in part.items() if isinstance(v, Mapping)})
    return merged


def _unique_sources(sources: Any) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for source in _flatten(sources):
        if isinstance(source, Mapping) and "url" in source:
            seen.setdefault(str(source["url"]), dict(source))
    return list(seen.values())


def _section(
    question_id: str, finding: Mapping[str, Any], sources: list[dict[str, Any]]
) -> dict[str, Any]:
    own = [s["url"] for s in sources if s.get("question_id") == question_id]
    return {
        "heading": str(finding.get("focus", "")).replace("_", " ").capitalize(),
        "question": finding.get("question", ""),
        "body": " ".join(str(f) for f in finding.get("findings", [])),
        "confidence": float(finding.get("confidence", 0.0)),
        "sources": own,
    }


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield value


def _reason(error: Any) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    if isinstance(error, Mapping):
        return str(error.get("message", error))
    return str(error)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "topic"


def _natural(key: str) -> tuple[str, int]:
    head = key.rstrip("0123456789")
    tail = key[len(head) :]
    return head, int(tail) if tail else 0
