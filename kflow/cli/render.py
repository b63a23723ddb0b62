"""How runs, steps and journals look on a terminal."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from kflow.cli.progress import describe
from kflow.engine import events as ev

if TYPE_CHECKING:
    from kflow.runtime import RunView
    from kflow.store.protocol import RunSummary

_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
    "running": "cyan",
    "paused": "yellow",
    "retrying": "yellow",
    "skipped": "dim",
    "pending": "dim",
    "ready": "blue",
}


def when(at: float | None) -> str:
    """A local timestamp, or '-'."""
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def seconds(value: float | None) -> str:
    """A duration for people: 3 ms, 1.25 s, 2 min 3 s."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{int(value // 60)} min {int(value % 60)} s"


def styled(status: str) -> str:
    """A status word in its colour."""
    style = _STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def dump_json(console: Console, data: Any) -> None:
    """Print machine-readable JSON (no colours, no wrapping)."""
    console.print_json(json.dumps(data, default=str), highlight=False)


def runs_table(console: Console, runs: Sequence[RunSummary]) -> None:
    """The list of runs."""
    if not runs:
        console.print("no runs yet; start one with `kflow run FILE`")
        return
    table = Table("workflow", "status", "created", "updated", "error / reason")
    # Whole ids, never wrapped: they are what users copy into the next command.
    table.columns.insert(0, Column("run", no_wrap=True, min_width=len(runs[0].run_id)))
    for run in runs:
        table.add_row(
            run.run_id,
            escape(run.workflow_id),
            styled(run.status),
            when(run.created_at),
            when(run.updated_at),
            escape((run.error or "")[:80]),
        )
    console.print(table)


def status_report(console: Console, view: RunView, *, verbose: bool = False) -> None:
    """A run's state and its steps; with `verbose`, each error's traceback or stderr."""
    status = view.status
    if status == "running" and view.live is False:
        status = "running, but no worker is executing it: `kflow resume` or `kflow recover`"
    console.print(
        f"run [bold]{view.run_id}[/bold] of workflow '{view.workflow_id}': {styled(status)}"
    )
    console.print(f"created {when(view.created_at)}, finished {when(view.finished_at)}")
    if view.reason:
        console.print(f"reason: {view.reason}")
    table = Table("step", "status", "action", "attempts", "duration", "error")
    for step in view.steps:
        name = step.id if step.items is None else f"{step.id} [{step.items_done}/{step.items}]"
        error = f"{step.error_kind}: {step.error}" if step.error else ""
        if step.variant:
            error = f"(via {step.variant}) {error}".strip()
        table.add_row(
            name,
            styled(step.status),
            escape(step.action),
            str(step.attempts),
            seconds(step.duration),
            escape(error),
        )
    console.print(table)
    if view.error:
        console.print(
            f"[red]error[/red] ({view.error_kind}) at step {view.failed_step}: {escape(view.error)}"
        )
    detailed = [step for step in view.steps if step.details]
    if detailed and not verbose:
        console.print("(`kflow -v status` shows the tracebacks or stderr of the errors)")
    for step in detailed if verbose else []:
        console.print(f"details of step {escape(step.id)}:")
        console.print(escape(step.details or ""), highlight=False)
    if view.outputs is not None:
        console.print("outputs:")
        dump_json(console, view.outputs)


def history_report(console: Console, events: Sequence[ev.AnyEvent]) -> None:
    """The journal as a readable timeline, with time since the run began."""
    start = events[0].at if events else 0.0
    for seq, event in enumerate(events):
        offset = f"+{event.at - start:8.3f}s"
        console.print(
            f"{seq:>4}  {when(event.at)}  [dim]{offset}[/dim]  {escape(describe(event))}",
            highlight=False,
        )


def event_json(seq: int, event: ev.AnyEvent) -> dict[str, Any]:
    """An event as JSON data, with its place in the journal."""
    data: dict[str, Any] = json.loads(ev.encode(event))
    return {"seq": seq, **data}
