"""Graph algorithms over step indices: stable topological order, cycles, critical path.

Steps are numbered in definition order; `deps[i]` lists the steps `i` waits for and
`dependents[i]` the steps waiting for `i`. Everything here is O(V + E) (the order adds
a log V factor for its heap).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence

from kflow.plan.model import Plan

Adjacency = Sequence[Sequence[int]]


def dependents_of(deps: Adjacency) -> list[list[int]]:
    """Reverse the edges: for each step, the steps that depend on it (in definition order)."""
    dependents: list[list[int]] = [[] for _ in deps]
    for step, before in enumerate(deps):
        for prerequisite in before:
            dependents[prerequisite].append(step)
    return dependents


def topological_order(deps: Adjacency, dependents: Adjacency) -> tuple[list[int], list[int]]:
    """Kahn's order, taking the first-defined ready step each time; and the steps left over.

    Left-over steps are on a cycle or wait for one. `deps` must hold no repeats.
    """
    waiting = [len(before) for before in deps]
    ready = [step for step, count in enumerate(waiting) if count == 0]  # sorted: a valid heap
    order: list[int] = []
    while ready:
        step = heapq.heappop(ready)
        order.append(step)
        for after in dependents[step]:
            waiting[after] -= 1
            if waiting[after] == 0:
                heapq.heappush(ready, after)
    return order, [step for step, count in enumerate(waiting) if count > 0]


def find_cycles(dependents: Adjacency, among: Sequence[int]) -> list[list[int]]:
    """One cycle per strongly connected component of `among`, as `[a, b, ..., a]`.

    Each cycle starts at the component's first-defined step and follows data flow
    (a step, then a step that depends on it). Enumerating every elementary cycle can
    take exponential time, so a tangle of several cycles is reported once.
    """
    cycles = []
    for component in _components(dependents, among):
        if len(component) > 1:
            cycles.append(_cycle_through(min(component), set(component), dependents))
    return sorted(cycles)


def _components(edges: Adjacency, among: Sequence[int]) -> list[list[int]]:
    """Tarjan's strongly connected components of the subgraph on `among`, iteratively."""
    inside = set(among)
    number: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: list[list[int]] = []
    targets_of: dict[int, list[int]] = {}
    for root in among:
        if root in number:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                number[node] = low[node] = len(number)
                stack.append(node)
                on_stack.add(node)
                targets_of[node] = [t for t in edges[node] if t in inside]
            targets = targets_of[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in number:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], number[target])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == number[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found


def _cycle_through(start: int, component: set[int], edges: Adjacency) -> list[int]:
    """The shortest way from `start` back to itself inside its component (breadth-first)."""
    came_from: dict[int, int] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in edges[node]:
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target in component and target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise ValueError("the component has no cycle through its start")  # pragma: no cover


def longest_paths(
    order: Sequence[int], dependents: Adjacency, weights: Sequence[float] | None = None
) -> list[float]:
    """For each step, the weight of the heaviest path from it to a sink, itself included.

    With no weights every step weighs 1, so this counts the steps on the longest path.
    """
    weight = list(weights) if weights is not None else [1.0] * len(dependents)
    length = list(weight)
    for step in reversed(order):
        after = dependents[step]
        if after:
            length[step] = weight[step] + max(length[a] for a in after)
    return length


def critical_path(plan: Plan) -> tuple[str, ...]:
    """The chain of steps with the longest path through the plan, in run order."""
    sources = [s for s in plan.order if not plan.steps[s].depends_on]
    if not sources:
        return ()
    step = max(sources, key=lambda s: plan.steps[s].priority)
    path = [step]
    while plan.steps[step].dependents:
        step = max(plan.steps[step].dependents, key=lambda s: plan.steps[s].priority)
        path.append(step)
    return tuple(path)


def levels(plan: Plan) -> list[list[str]]:
    """Steps grouped by depth: level 0 waits for nothing, level n for something at n - 1."""
    depth: dict[str, int] = {}
    grouped: list[list[str]] = []
    for step_id in plan.order:
        before = plan.steps[step_id].depends_on
        level = 1 + max((depth[b] for b in before), default=-1)
        depth[step_id] = level
        if level == len(grouped):
            grouped.append([])
        grouped[level].append(step_id)
    return grouped
