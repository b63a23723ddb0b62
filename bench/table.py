"""The results table: one row per workload, aligned as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from bench.metrics import format_value
from bench.runner import Result
from bench.workloads import REGISTRY

HEADERS = (
    "workload",
    "action",
    "steps",
    "seconds",
    "ms/step",
    "x commit",
    "target",
    "measured",
    "met?",
)
NUMERIC = frozenset({2, 3, 4, 5})
"""Columns aligned right."""


def _targets(result: Result) -> tuple[str, str, str]:
    """The targets, the measured values in their units, and whether all were met."""
    targets = REGISTRY[result.name].targets if result.name in REGISTRY else ()
    if not targets:
        return "-", "-", "-"
    values = [result.metrics[t.metric] for t in targets]
    met = all(t.met(v) for t, v in zip(targets, values, strict=True))
    return (
        "; ".join(t.describe() for t in targets),
        "; ".join(format_value(t.metric, v) for t, v in zip(targets, values, strict=True)),
        "yes" if met else "NO",
    )


def rows(results: Sequence[Result]) -> list[tuple[str, ...]]:
    """One row of table cells per result."""
    out: list[tuple[str, ...]] = []
    for r in results:
        target, measured, met = _targets(r)
        sleeps = r.name in REGISTRY and REGISTRY[r.name].sleeps
        out.append(
            (
                r.name,
                r.action,
                f"{r.steps:,}",
                f"{r.seconds:.3f}",
                f"{r.metrics['ms_per_step']:.3f}",
                "-" if sleeps else f"{r.metrics['x_commit']:.1f}x",
                target,
                measured,
                met,
            )
        )
    return out


def markdown(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Cells as an aligned Markdown table (numeric columns aligned right)."""
    widths = [max(len(c) for c in col) for col in zip(headers, *body, strict=False)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.rjust(w) if i in NUMERIC else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|".join(
        "-" * (w + 1) + ":" if i in NUMERIC else "-" * (w + 2) for i, w in enumerate(widths)
    )
    return "\n".join([line(headers), f"|{rule}|", *(line(r) for r in body)])


def table(results: Sequence[Result], commit_label: str) -> str:
    """The results as an aligned Markdown table."""
    headers = tuple(f"x commit ({commit_label})" if h == "x commit" else h for h in HEADERS)
    return markdown(headers, rows(results))


def notes(results: Sequence[Result]) -> list[str]:
    """One line per result with values beyond its targets (bounds, latencies, sizes)."""
    lines = []
    for r in results:
        shown = {t.metric for t in REGISTRY[r.name].targets} if r.name in REGISTRY else set()
        extra = [n for n in r.samples[0].values if n not in shown]
        if extra:
            described = "; ".join(format_value(n, r.metrics[n]) for n in extra)
            lines.append(f"- {r.name}: {described}")
    return lines
