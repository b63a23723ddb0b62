"""Graph helpers: stable order, cycles, longest paths, critical path, levels."""

from __future__ import annotations

from kflow.plan import critical_path, levels, load_plan
from kflow.plan.graph import dependents_of, find_cycles, longest_paths, topological_order


def test_dependents_reverse_the_edges_in_definition_order() -> None:
    assert dependents_of([[], [0], [0], [1, 2]]) == [[1, 2], [3], [3], []]


def test_ready_steps_run_in_definition_order() -> None:
    deps: list[list[int]] = [[3], [], [1], []]
    order, stuck = topological_order(deps, dependents_of(deps))
    assert order == [1, 2, 3, 0]
    assert stuck == []


def test_steps_on_or_after_a_cycle_are_left_over() -> None:
    deps = [[], [2], [1], [2]]
    order, stuck = topological_order(deps, dependents_of(deps))
    assert order == [0]
    assert stuck == [1, 2, 3]


def test_one_cycle_is_found_per_tangle_starting_at_its_first_step() -> None:
    deps = [[2], [0], [1], [4], [3], [4]]
    dependents = dependents_of(deps)
    _, stuck = topological_order(deps, dependents)
    assert find_cycles(dependents, stuck) == [[0, 1, 2, 0], [3, 4, 3]]


def test_a_tangle_reports_its_shortest_cycle_through_the_first_step() -> None:
    deps = [[2], [0], [0, 1]]  # 0 -> 1 -> 2 -> 0 and 0 -> 2 -> 0
    dependents = dependents_of(deps)
    assert find_cycles(dependents, [0, 1, 2]) == [[0, 2, 0]]


def test_a_long_cycle_does_not_exhaust_the_stack() -> None:
    size = 20_000
    deps = [[size - 1]] + [[i - 1] for i in range(1, size)]
    (cycle,) = find_cycles(dependents_of(deps), list(range(size)))
    assert len(cycle) == size + 1


def test_longest_paths_count_steps_to_the_farthest_sink() -> None:
    deps: list[list[int]] = [[], [0], [1], [0], []]
    dependents = dependents_of(deps)
    order, _ = topological_order(deps, dependents)
    assert longest_paths(order, dependents) == [3, 2, 1, 1, 1]


DIAMOND = """\
steps:
  - {id: start}
  - {id: short, depends_on: [start]}
  - {id: long1, depends_on: [start]}
  - {id: long2, depends_on: [long1]}
  - {id: end, depends_on: [short, long2]}
  - {id: alone}
"""


def test_the_critical_path_follows_the_longest_chain() -> None:
    assert critical_path(load_plan(DIAMOND)) == ("start", "long1", "long2", "end")


def test_levels_group_steps_by_depth() -> None:
    assert levels(load_plan(DIAMOND)) == [
        ["start", "alone"],
        ["short", "long1"],
        ["long2"],
        ["end"],
    ]
