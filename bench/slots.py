"""Where a DAG run's slot-time went, read from its journal: work, late timers, and idling.

A run on `slots` slots over a makespan M has `slots * M` slot-seconds. Each is spent in
one of four ways: sleeping (the DAG's work), overshooting a sleep (its timer fired late:
`bench.probes.StepTimes`), idle while some step was ready (every step it waits for had
succeeded), or idle with no step ready (the DAG's shape left nothing to do, as in its
final serial chains). Divided by `slots * bound`, the three overheads add up to the
makespan's excess over the bound when that is work / slots: 1.05x = 1 + late + idle
while ready + idle with none ready. A list schedule without overhead has only the last
(`bench.schedule`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.dags import Dag
from kflow.engine import events as ev


@dataclass(frozen=True)
class SlotAccount:
    """Slot-seconds of a run in which slots were idle, by cause."""

    idle_ready: float
    """Slots free while a step was ready to start (waiting for a commit, or for the loop)."""
    idle_none: float
    """Slots free while no step was ready."""
    end: float
    """Seconds from the last step's success to the end of `execute` (on every slot, that
    time is part of `idle_none` too)."""

    @classmethod
    def from_journal(
        cls, events: Iterable[ev.AnyEvent], dag: Dag, slots: int, began: float, ended: float
    ) -> SlotAccount:
        """Account a finished run of `dag` from its events; `began` and `ended` bound
        `execute` (`time.time()` values, as the journal's). A step counts as ready once
        every step it waits for has succeeded (the bench's DAGs never fail or retry)."""
        dependents: dict[str, list[str]] = {}
        waiting = {task.id: len(task.deps) for task in dag.tasks}
        for task in dag.tasks:
            for dep in task.deps:
                dependents.setdefault(dep, []).append(task.id)
        # (time, 0 for a success / 1 for a start, step): a slot freed and taken at one
        # instant was never idle.
        points = sorted(
            (event.at, 1 if isinstance(event, ev.StepStarted) else 0, event.step)
            for event in events
            if isinstance(event, ev.StepStarted | ev.StepSucceeded)
        )
        ready = sum(1 for count in waiting.values() if count == 0)
        running, last, idle_ready, idle_none = 0, began, 0.0, 0.0
        for at, kind, step in [*points, (ended, 2, "")]:
            if at > last:
                free = slots - running
                taken = min(free, ready)
                idle_ready += taken * (at - last)
                idle_none += (free - taken) * (at - last)
                last = at
            if kind == 1:
                running, ready = running + 1, ready - 1
            elif kind == 0:
                running -= 1
                for dependent in dependents.get(step, ()):
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        ready += 1
        last_result = max((at for at, kind, _ in points if kind == 0), default=began)
        return cls(idle_ready, idle_none, ended - last_result)

    def summary(self, slots: int, bound: float) -> dict[str, float]:
        """The idle slot-seconds as multiples of the bound (per `slots * bound`), and the
        end in ms."""
        scale = slots * bound
        return {
            "idle_ready_x": self.idle_ready / scale,
            "idle_none_x": self.idle_none / scale,
            "end_ms": self.end * 1000,
        }
