"""Live progress of runs: a progress bar on a terminal, one plain line per event otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from kflow.engine import events as ev
from kflow.engine.state import StepStatus

if TYPE_CHECKING:
    from kflow.engine.machine import RunMachine


def describe(event: ev.AnyEvent) -> str:
    """One line of text for an event, as shown in progress and history."""
    match event:
        case ev.RunCreated(workflow_id=workflow_id, inputs=inputs):
            return f"run created for workflow '{workflow_id}' with inputs {inputs}"
        case ev.StepStarted(attempt=attempt, variant=variant):
            extra = "" if variant == "primary" else f", {variant}"
            return f"step {_task(event)} started (attempt {attempt}{extra})"
        case ev.StepSucceeded():
            return f"step {_task(event)} succeeded"
        case ev.StepFailed(error=error, decision=decision, retry_at=retry_at):
            then = {
                "retry": f"retry at {_clock(retry_at)}" if retry_at else "retry",
                "fallback": "running its fallback",
                "escalate": "escalating",
                "fail": "the run fails",
                "continue": "continuing without it",
            }[decision]
            return f"step {_task(event)} failed ({error.kind}): {error.message} -> {then}"
        case ev.RunPaused(reason=reason):
            return "run paused" + (f": {reason}" if reason else "")
        case ev.RunResumed():
            return "run resumed"
        case ev.RunRecovered(owner=owner):
            return f"run recovered by worker {owner}; interrupted steps run again"
        case ev.RunCancelled(reason=reason):
            return "run cancelled" + (f": {reason}" if reason else "")
        case ev.RunSucceeded():
            return "run succeeded"
        case ev.RunFailed(error=error, step=step):
            where = f" at step {step}" if step else ""
            return f"run failed{where} ({error.kind}): {error.message}"
    return type(event).__name__


def _task(event: ev.StepStarted | ev.StepSucceeded | ev.StepFailed) -> str:
    return event.step if event.index is None else f"{event.step}[{event.index}]"


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


class LineProgress:
    """Prints each committed event as a timestamped line (for logs and pipes)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, machine: RunMachine, event: ev.AnyEvent) -> None:
        prefix = f"{_clock(event.at)} {machine.state.run_id[-6:]}"
        self._stream.write(f"{prefix} {describe(event)}\n")
        self._stream.flush()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class BarProgress:
    """A rich progress bar per run, with counts of running, done and failed steps."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = Progress(
            TextColumn("[bold]{task.fields[name]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._bars: dict[str, TaskID] = {}

    def __call__(self, machine: RunMachine, event: ev.AnyEvent) -> None:
        state = machine.state
        bar = self._bars.get(state.run_id)
        if bar is None:
            bar = self._progress.add_task(
                "", total=len(state.steps), name=state.workflow_id, counts=""
            )
            self._bars[state.run_id] = bar
        statuses = [step.status for step in state.steps.values()]
        running = sum(s is StepStatus.RUNNING for s in statuses)
        failed = sum(s is StepStatus.FAILED for s in statuses)
        waiting = sum(s is StepStatus.RETRYING for s in statuses)
        counts = f"{running} running"
        if waiting:
            counts += f" · {waiting} retrying"
        if failed:
            counts += f" · [red]{failed} failed[/red]"
        if state.status.value == "paused":
            counts += " · [yellow]paused[/yellow]"
        self._progress.update(bar, completed=state.finished_steps, counts=counts)
        if isinstance(event, ev.StepFailed | ev.RunRecovered | ev.RunPaused | ev.RunCancelled):
            line = f"[dim]{_clock(event.at)}[/dim] {escape(describe(event))}"
            self._progress.console.print(line, highlight=False)

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()


class SilentProgress(LineProgress):
    """Reports nothing (`--json` with stderr on a terminal: the JSON says it all)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def __call__(self, machine: Any, event: Any) -> None:
        """Ignore the event."""
