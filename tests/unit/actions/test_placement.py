from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import kflow
from kflow.actions import PythonAction, StepContext, current_step
from kflow.actions.placement import (
    BACKOFF,
    PROMOTE_AFTER,
    QUICK_SECONDS,
    WAIT_SLACK_SECONDS,
    Placement,
    close_unstarted_coroutines,
    in_thread,
    is_pinned_to_threads,
    starts_own_loop,
)

QUICK = (0.00001, 0.00001)
SLOW = (QUICK_SECONDS * 4, QUICK_SECONDS * 4)
WAITED = (0.0003, 0.0003 - WAIT_SLACK_SECONDS * 2)


def observed(placement: Placement, *calls: tuple[float, float]) -> Placement:
    for wall, cpu in calls:
        placement.observe(wall, cpu)
    return placement


def test_a_function_moves_to_the_loop_after_enough_quick_calls_in_a_row() -> None:
    placement = observed(Placement(), *[QUICK] * (PROMOTE_AFTER - 1))
    assert not placement.on_loop
    assert observed(placement, QUICK).on_loop


@pytest.mark.parametrize("spoiler", [SLOW, WAITED], ids=["slow", "waited"])
def test_a_slow_or_waiting_call_starts_the_count_again(spoiler: tuple[float, float]) -> None:
    placement = observed(Placement(), *[QUICK] * (PROMOTE_AFTER - 1), spoiler)
    assert not observed(placement, *[QUICK] * (PROMOTE_AFTER - 1)).on_loop
    assert observed(placement, QUICK).on_loop


@pytest.mark.parametrize("spoiler", [SLOW, WAITED], ids=["slow", "waited"])
def test_one_slow_or_waiting_call_on_the_loop_sends_it_back_for_longer(
    spoiler: tuple[float, float],
) -> None:
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER, spoiler)
    assert not placement.on_loop
    assert not observed(placement, *[QUICK] * (PROMOTE_AFTER * BACKOFF - 1)).on_loop
    assert observed(placement, QUICK).on_loop


def test_a_pinned_function_never_moves_to_the_loop() -> None:
    assert not observed(Placement(pinned=True), *[QUICK] * PROMOTE_AFTER * 10).on_loop


def test_in_thread_marks_functions_and_the_methods_of_agents() -> None:
    @in_thread
    def pinned() -> None: ...

    class Agent:
        @kflow.in_thread
        def act(self) -> None: ...

        def other(self) -> None: ...

    assert is_pinned_to_threads(pinned) and is_pinned_to_threads(Agent().act)
    assert not is_pinned_to_threads(Agent().other)


def test_asyncios_refusals_to_nest_loops_are_recognised() -> None:
    async def inside() -> tuple[bool, bool]:
        coroutine = asyncio.sleep(0)
        try:
            asyncio.run(coroutine)
        except RuntimeError as exc:
            refused = starts_own_loop(exc)
            close_unstarted_coroutines(exc)
        return refused, starts_own_loop(RuntimeError("something else"))

    assert asyncio.run(inside()) == (True, False)  # and no "never awaited" warning


def calls(action: PythonAction, context: StepContext, count: int) -> list[Any]:
    """Call `action` `count` times on one loop; return each result."""

    async def many() -> list[Any]:
        return [await action({}, context) for _ in range(count)]

    return asyncio.run(many())


def test_a_quick_sync_function_runs_on_the_loop_once_proved_quick(context: StepContext) -> None:
    def where() -> dict[str, Any]:
        return {"thread": threading.get_ident(), "step": current_step()}

    results = calls(PythonAction(where), context, PROMOTE_AFTER + 3)
    loop_thread = threading.get_ident()  # asyncio.run runs the loop in this thread
    threads = [r["thread"] == loop_thread for r in results]
    assert threads == [False] * PROMOTE_AFTER + [True] * 3
    assert all(r["step"] == context for r in results)


def test_a_function_that_waits_stays_in_threads(context: StepContext) -> None:
    def naps() -> int:
        time.sleep(0.001)
        return threading.get_ident()

    results = calls(PythonAction(naps), context, PROMOTE_AFTER + 4)
    assert threading.get_ident() not in results


def test_a_function_that_blocks_on_the_loop_goes_back_to_threads(context: StepContext) -> None:
    count = 0

    def sometimes_slow() -> int:
        nonlocal count
        count += 1
        if count == PROMOTE_AFTER + 2:
            time.sleep(0.005)  # the second call on the loop blocks it
        return threading.get_ident()

    results = calls(PythonAction(sometimes_slow), context, PROMOTE_AFTER + 4)
    on_loop = [r == threading.get_ident() for r in results[PROMOTE_AFTER:]]
    assert on_loop == [True, True, False, False]


def test_a_function_that_starts_its_own_event_loop_is_run_again_in_a_thread(
    context: StepContext,
) -> None:
    async def answer() -> int:
        return 42

    def nested() -> dict[str, int]:
        return {"answer": asyncio.run(answer()), "thread": threading.get_ident()}

    action = PythonAction(nested)
    results = calls(action, context, PROMOTE_AFTER * 2)
    assert all(r["answer"] == 42 for r in results)
    assert threading.get_ident() not in [r["thread"] for r in results]
    assert not action.placement.on_loop


def test_a_function_marked_in_thread_never_runs_on_the_loop(context: StepContext) -> None:
    @kflow.in_thread
    def pinned() -> int:
        return threading.get_ident()

    results = calls(PythonAction(pinned), context, PROMOTE_AFTER * 2)
    assert threading.get_ident() not in results


def test_errors_of_a_function_on_the_loop_propagate_unchanged(context: StepContext) -> None:
    count = 0

    def fails_late() -> None:
        nonlocal count
        count += 1
        if count > PROMOTE_AFTER:
            raise KeyError("missing")

    action = PythonAction(fails_late)
    calls(action, context, PROMOTE_AFTER)
    assert action.placement.on_loop
    with pytest.raises(KeyError, match="missing"):
        calls(action, context, 1)
