"""What a perfect engine would achieve: list scheduling of a DAG with zero overhead.

`simulate` starts the highest-priority ready task whenever a slot is free, exactly as
kflow's dispatcher does, but with no commit, thread or timer cost. Three priorities are
compared: kflow's own (read from the compiled plan: the longest path to a sink, in seconds
where steps have an `estimate` or are `sleep`s, else in steps), the longest path counted
in steps, and the longest path in seconds (HLFET). The gaps between them show how much
makespan the choice of priority costs on a given DAG, apart from any engine overhead.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from bench.dags import Dag
from kflow.plan import compile_plan
from kflow.spec.models import WorkflowSpec

Key = tuple[float, int]


def graph(dag: Dag) -> tuple[list[int], list[list[int]]]:
    """For each task (by position): how many tasks it waits for, and which tasks wait for it."""
    index = {t.id: i for i, t in enumerate(dag.tasks)}
    waiting = [len(t.deps) for t in dag.tasks]
    dependents: list[list[int]] = [[] for _ in dag.tasks]
    for i, t in enumerate(dag.tasks):
        for d in t.deps:
            dependents[index[d]].append(i)
    return waiting, dependents


def simulate(dag: Dag, slots: int, keys: Sequence[Key]) -> float:
    """The makespan of list scheduling `dag` on `slots` slots; lower `keys[i]` starts first."""
    waiting, dependents = graph(dag)
    ready = [(keys[i], i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    now, free = 0.0, slots
    while ready or running:
        while ready and free:
            _, i = heapq.heappop(ready)
            heapq.heappush(running, (now + dag.tasks[i].seconds, i))
            free -= 1
        now, i = heapq.heappop(running)
        done = [i]
        while running and running[0][0] <= now:
            done.append(heapq.heappop(running)[1])
        free += len(done)
        for j in done:
            for k in dependents[j]:
                waiting[k] -= 1
                if waiting[k] == 0:
                    heapq.heappush(ready, (keys[k], k))
    return now


def simulate_serial(
    dag: Dag,
    slots: int,
    keys: Sequence[Key],
    per_completion: float,
    commit_seconds: float = 0.0,
) -> float:
    """The makespan when one server handles completions in deadline order, `per_completion`
    seconds each, and a freed slot's next task starts when its completion is handled.

    A model of one event loop: with `per_completion` 0 this is `simulate`. A step's loop
    CPU enters a makespan through it, and steeply once completions bunch up.

    With `commit_seconds`, the durability rule too: a result readies its dependents only
    once a commit carrying it has landed, and the run ends when its last result has. One
    writer commits at a time; a commit takes every result handled by the time it begins
    (kflow's group commit at its quickest: it begins once the completions due so far are
    handled, or when the commit before it lands).
    """
    waiting, dependents = graph(dag)
    ready = [(keys[i], i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    # Events in time order: (when, 0, task) a task's timer is due; (when, 1, -1) a commit lands.
    due: list[tuple[float, int, int]] = []
    free, handled, end = slots, 0.0, 0.0
    waiting_commit: list[int] = []
    committing: list[int] = []
    writer_busy = False

    def fill(now: float) -> None:
        nonlocal free
        while ready and free:
            _, i = heapq.heappop(ready)
            free -= 1
            heapq.heappush(due, (now + dag.tasks[i].seconds, 0, i))

    def release(done: list[int]) -> None:
        for i in done:
            for k in dependents[i]:
                waiting[k] -= 1
                if waiting[k] == 0:
                    heapq.heappush(ready, (keys[k], k))

    def begin_commit(now: float) -> None:
        nonlocal waiting_commit, committing, writer_busy
        if waiting_commit and not writer_busy:
            committing, waiting_commit, writer_busy = waiting_commit, [], True
            heapq.heappush(due, (now + commit_seconds, 1, -1))

    fill(0.0)
    while due:
        when, kind, i = heapq.heappop(due)
        if kind == 1:  # a commit lands: what it carried readies its dependents
            writer_busy = False
            now = max(handled, when)
            end = max(end, now)
            release(committing)
            begin_commit(now)
            fill(now)
            continue
        handled = max(handled, when) + per_completion
        end = max(end, handled)
        free += 1
        if commit_seconds <= 0:
            release([i])
        else:
            waiting_commit.append(i)
            if not (due and due[0][1] == 0 and due[0][0] <= handled):
                begin_commit(handled)  # the completions due by now are handled: commit them
        fill(handled)
    return end


def kflow_keys(dag: Dag, spec: WorkflowSpec | None = None) -> list[Key]:
    """kflow's own order: its compiled priority (steps to a sink), then its plan order."""
    plan = compile_plan(spec or WorkflowSpec.model_validate(dag.spec(1)))
    return [(float(plan.rank[t.id]), 0) for t in dag.tasks]


def _bottom_levels(dag: Dag, weights: Sequence[float]) -> list[Key]:
    """Longest weighted path from each task to a sink (itself included), then position."""
    index = {t.id: i for i, t in enumerate(dag.tasks)}
    bottom = list(weights)
    for i in range(len(dag.tasks) - 1, -1, -1):  # tasks are in a topological order
        for d in dag.tasks[i].deps:
            j = index[d]
            bottom[j] = max(bottom[j], weights[j] + bottom[i])
    return [(-bottom[i], i) for i in range(len(dag.tasks))]


def seconds_keys(dag: Dag) -> list[Key]:
    """Longest path to a sink in seconds (HLFET), then definition order."""
    return _bottom_levels(dag, [t.seconds for t in dag.tasks])


def steps_keys(dag: Dag) -> list[Key]:
    """Longest path to a sink counted in steps, then definition order."""
    return _bottom_levels(dag, [1.0] * len(dag.tasks))


def simulated(
    dag: Dag, slots: int, spec: WorkflowSpec | None = None, keys: Sequence[Key] | None = None
) -> dict[str, float]:
    """Simulated makespans as multiples of the lower bound, for the three priorities.

    `keys` are kflow's (from `kflow_keys`), if already worked out.
    """
    bound = dag.lower_bound(slots)
    return {
        "sim_kflow_x": simulate(dag, slots, keys or kflow_keys(dag, spec)) / bound,
        "sim_steps_x": simulate(dag, slots, steps_keys(dag)) / bound,
        "sim_seconds_x": simulate(dag, slots, seconds_keys(dag)) / bound,
    }


def describe(dag: Dag, slots: int) -> dict[str, Any]:
    """A DAG's size, shape and bounds, with the simulated makespans (for `bench.dags`),
    also with 0.05-0.11 ms of loop time per completion, and with commits of 0.5 and
    1.25 ms that each result must wait for (`simulate_serial`)."""
    keys = kflow_keys(dag)
    bound = dag.lower_bound(slots)
    serial = {
        f"sim_kflow_x_at_{ms}ms": round(simulate_serial(dag, slots, keys, ms / 1000) / bound, 4)
        for ms in (0.05, 0.08, 0.11)
    }
    for commit_ms in (0.5, 1.25):
        for ms in (0.0, 0.08, 0.11):
            seconds = simulate_serial(dag, slots, keys, ms / 1000, commit_ms / 1000)
            serial[f"sim_kflow_x_at_{ms}ms_commit_{commit_ms}ms"] = round(seconds / bound, 4)
    return {
        "name": dag.name,
        "steps": len(dag.tasks),
        "kinds": dag.kinds(),
        "slots": slots,
        "work_s": round(dag.work, 3),
        "critical_path_s": round(dag.critical_path, 3),
        "lower_bound_s": round(dag.lower_bound(slots), 3),
        **{k: round(v, 4) for k, v in simulated(dag, slots, keys=keys).items()},
        **serial,
    }
