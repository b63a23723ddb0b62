from __future__ import annotations

import asyncio
import gc
import math
import threading
import time
from typing import Any

import pytest

import kflow
from kflow.actions import PythonAction, StepContext, classify, current_step
from kflow.actions import placement as placement_module
from kflow.actions.placement import (
    BACKOFF,
    PROBATION_SECONDS,
    PROMOTE_AFTER,
    QUICK_SECONDS,
    WAIT_SLACK_SECONDS,
    Placement,
    ThreadWork,
    close_unstarted_coroutines,
    in_thread,
    is_pinned_to_threads,
    mark,
    spent_since,
    starts_own_loop,
    strike_seconds,
    thread_usage,
    thread_work,
)
from kflow.actions.threads import run_in_thread

QUICK = (0.00001, 0.00001)
SLOW = (QUICK_SECONDS * 4, QUICK_SECONDS * 4)
WAITED = (0.0003, 0.0003 - WAIT_SLACK_SECONDS * 2)


def observed(placement: Placement, *calls: tuple[float, float]) -> Placement:
    for wall, cpu in calls:
        placement.observe(wall, cpu, ran_on_loop=placement.on_loop)
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


def test_one_slow_call_on_the_loop_sends_it_back_for_longer() -> None:
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER, SLOW)
    assert not placement.on_loop
    assert not observed(placement, *[QUICK] * (PROMOTE_AFTER * BACKOFF - 1)).on_loop
    assert observed(placement, QUICK).on_loop


def test_a_quick_call_on_the_loop_that_lost_the_cpu_for_a_moment_keeps_it_there() -> None:
    # Wall time beyond CPU time on the loop is mostly the VM taking the CPU away; the
    # loop was held no longer than by a quick computation.
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER, WAITED)
    assert placement.on_loop


def test_a_long_call_on_the_loop_that_neither_computed_nor_blocked_keeps_it_there() -> None:
    # The VM took the CPU away for a millisecond: a thread would not have been spared.
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    assert not placement.observe(0.001, 0.00001, ran_on_loop=True, blocked=False)
    assert placement.on_loop


def test_a_long_call_on_the_loop_that_blocked_sends_it_back() -> None:
    blocked = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    assert blocked.observe(0.001, 0.00001, ran_on_loop=True, blocked=True)
    assert not blocked.on_loop


def test_a_call_on_the_loop_that_computed_a_few_ms_is_forgiven_once_per_promotion() -> None:
    # Once may be the kernel's doing (a page fault zeroing a huge page): forgiven.
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    assert not placement.observe(0.001, 0.001, ran_on_loop=True, blocked=False)
    assert placement.on_loop
    for _ in range(1000):  # however long after: the stalls stay bounded
        assert not placement.observe(*QUICK, ran_on_loop=True, blocked=False)
    assert placement.observe(0.001, 0.001, ran_on_loop=True, blocked=False)
    assert not placement.on_loop
    # Promoted again, it is forgiven once again.
    observed(placement, *[QUICK] * PROMOTE_AFTER * BACKOFF)
    assert placement.on_loop
    assert not placement.observe(0.001, 0.001, ran_on_loop=True, blocked=False)
    assert placement.observe(0.001, 0.001, ran_on_loop=True, blocked=False)


def test_a_call_on_the_loop_that_computed_long_sends_it_back_at_once() -> None:
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    long = strike_seconds() * 2
    assert placement.observe(long, long, ran_on_loop=True, blocked=False)
    assert not placement.on_loop


def test_a_block_while_kflows_threads_work_is_forgiven_once() -> None:
    # A commit or a step in a thread may have held the GIL: the block may be that wait.
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    assert not placement.observe(0.003, 0.00001, ran_on_loop=True, blocked=True, contended=True)
    assert placement.on_loop
    assert placement.observe(0.003, 0.00001, ran_on_loop=True, blocked=True, contended=True)
    assert not placement.on_loop


def test_a_block_longer_than_a_wait_for_the_gil_sends_it_back_at_once() -> None:
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    long = strike_seconds() * 2
    assert placement.observe(long, 0.00001, ran_on_loop=True, blocked=True, contended=True)
    assert not placement.on_loop


def test_a_call_is_contended_if_kflows_threads_worked_during_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = ThreadWork()
    monkeypatch.setattr(placement_module, "thread_work", work)
    assert not spent_since(mark())[3]
    start = mark()
    work.begin()  # work that begins during the call
    work.end()
    assert spent_since(start)[3]
    work.begin()  # work under way when the call begins
    assert spent_since(mark())[3]
    work.end()


def test_a_promoted_function_that_blocks_while_threads_work_goes_back_the_second_time(
    context: StepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = ThreadWork()
    monkeypatch.setattr(placement_module, "thread_work", work)

    def naps() -> int:
        time.sleep(0.002)
        return threading.get_ident()

    action = promoted(PythonAction(naps))
    work.begin()  # a commit in the writer thread, say
    try:
        assert on_loop(calls(action, context, 3)) == [True, True, False]
    finally:
        work.end()


def test_step_calls_in_threads_count_as_thread_work_even_when_they_raise() -> None:
    begun = thread_work.begun
    seen: list[int] = []

    def fails() -> None:
        seen.append(thread_work.busy)
        raise KeyError("no")

    async def scenario() -> None:
        await run_in_thread(lambda: seen.append(thread_work.busy), {})
        with pytest.raises(KeyError):
            await run_in_thread(fails, {})

    asyncio.run(scenario())
    assert seen == [1, 1] and thread_work.begun == begun + 2 and thread_work.busy == 0


@pytest.mark.skipif(thread_usage()[1] is None, reason="the OS does not count blocking")
def test_thread_usage_counts_a_sleep_as_blocking_and_a_computation_as_cpu() -> None:
    cpu, switches = thread_usage()
    time.sleep(0.002)
    assert thread_usage()[1] != switches
    cpu, switches = thread_usage()
    deadline = time.thread_time() + 0.003  # CPU time, whatever the VM's load
    while time.thread_time() < deadline:
        pass
    assert thread_usage()[0] - cpu > 0.002


def test_a_collection_that_falls_in_a_call_is_not_counted_as_the_calls_time() -> None:
    garbage: list[list[int]] = []
    for _ in range(200_000):  # something for a full collection to look at
        garbage.append([])
    start = mark()
    began = time.perf_counter()
    gc.collect()
    collection = time.perf_counter() - began
    wall, cpu, _, _ = spent_since(start)
    assert collection > 0.001, "too little for the collector to do to tell"
    assert wall < collection / 2 and cpu < collection / 2


def test_a_call_cancelled_in_a_thread_starts_the_count_again() -> None:
    placement = observed(Placement(), *[QUICK] * (PROMOTE_AFTER - 1), (math.inf, 0.0))
    assert not observed(placement, *[QUICK] * (PROMOTE_AFTER - 1)).on_loop
    assert observed(placement, QUICK).on_loop


def test_a_slow_thread_call_that_ends_after_the_promotion_sends_it_back_quietly() -> None:
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    assert placement.on_loop
    held_up_the_loop = placement.observe(*SLOW, ran_on_loop=False)
    assert not held_up_the_loop and not placement.on_loop
    assert not observed(placement, *[QUICK] * (PROMOTE_AFTER * BACKOFF - 1)).on_loop


def test_a_slow_call_of_a_function_already_back_in_threads_for_good_is_not_reported() -> None:
    placement = observed(Placement(), *[QUICK] * PROMOTE_AFTER)
    placement.demote(for_good=True)  # it started an event loop of its own
    assert not placement.observe(*SLOW, ran_on_loop=True)


def test_a_pinned_function_never_moves_to_the_loop() -> None:
    assert not observed(Placement(pinned=True), *[QUICK] * PROMOTE_AFTER * 10).on_loop


def test_calls_under_way_in_threads_that_could_prove_it_quick_make_it_proving() -> None:
    placement = observed(Placement(), *[QUICK] * 4)
    for _ in range(PROMOTE_AFTER - 5):
        placement.start_in_thread()
    assert not placement.proving  # 4 quick + 11 under way: one short of a promotion
    placement.start_in_thread()
    assert placement.proving
    placement.observe(*WAITED, ran_on_loop=False)  # one comes back slow: no promotion soon
    assert not placement.proving
    pinned = Placement(pinned=True)
    for _ in range(PROMOTE_AFTER):
        pinned.start_in_thread()
    assert not pinned.proving


def test_a_function_whose_last_call_was_slow_is_not_waited_for() -> None:
    placement = Placement()
    for _ in range(PROMOTE_AFTER * 2):
        placement.start_in_thread()
    assert placement.proving  # nothing is known yet: the first calls may prove it quick
    placement.observe(*SLOW, ran_on_loop=False)
    assert not placement.proving  # its calls are slow: a verdict will not come in ms
    placement.observe(*QUICK, ran_on_loop=False)
    assert placement.proving


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


def promoted(action: PythonAction) -> PythonAction:
    """`action` as if it had proved quick: its next call runs on the loop.

    Whether 16 real calls all measure as quick depends on the machine's noise; the tests
    of `Placement` above pin the promotion rule down exactly.
    """
    action.placement.on_loop = True
    return action


def on_loop(thread_ids: list[int]) -> list[bool]:
    """Which calls ran in this thread (the one `asyncio.run` runs the loop in)."""
    return [t == threading.get_ident() for t in thread_ids]


def test_a_quick_sync_function_moves_to_the_loop_and_keeps_its_step_context(
    context: StepContext,
) -> None:
    def where() -> dict[str, Any]:
        return {"thread": threading.get_ident(), "step": current_step()}

    action = PythonAction(where)
    results: list[dict[str, Any]] = []
    # Sixteen quick calls in a row: a noisy machine may need several tries (a call that
    # is preempted in its thread does not count as quick and starts the streak again).
    while not any(on_loop([r["thread"] for r in results])) and len(results) < 4000:
        results += calls(action, context, PROMOTE_AFTER * 8)
    placed = on_loop([r["thread"] for r in results])
    assert placed[:PROMOTE_AFTER] == [False] * PROMOTE_AFTER  # it has to prove itself first
    assert any(placed), "a function returning at once never ran on the loop"
    assert all(r["step"] == context for r in results)


def concurrent_calls(action: PythonAction, context: StepContext, count: int) -> list[Any]:
    """Start `count` calls of `action` at once on one loop; return each result."""

    async def many() -> list[Any]:
        return await asyncio.gather(*(action({}, context) for _ in range(count)))

    return asyncio.run(many())


def test_calls_started_together_wait_for_the_first_ones_to_prove_the_function_quick(
    context: StepContext,
) -> None:
    def where() -> int:
        return threading.get_ident()

    # 200 calls of a new function at once: the first 16 go to threads to prove it quick,
    # the others wait for them and then run on the loop. A noisy machine may spoil the
    # proof (the waiting calls then go to threads too) or preempt a call on the loop
    # (which sends the rest back): try again with a new function, a few times.
    for _ in range(20):
        placed = on_loop(concurrent_calls(PythonAction(where), context, 200))
        if placed[:PROMOTE_AFTER] == [False] * PROMOTE_AFTER and all(placed[PROMOTE_AFTER:]):
            break
    assert placed[:PROMOTE_AFTER] == [False] * PROMOTE_AFTER
    assert all(placed[PROMOTE_AFTER:]), "calls past the first 16 went through threads"


def test_calls_of_a_slow_function_wait_for_no_verdict_longer_than_the_probation(
    context: StepContext,
) -> None:
    def naps() -> int:
        time.sleep(0.5)
        return threading.get_ident()

    started = time.perf_counter()
    placed = on_loop(concurrent_calls(PythonAction(naps), context, 40))
    # 40 threads nap at once: one nap, and the probation for the calls past the first
    # 16; had those waited for the first naps to end, it would take two.
    assert time.perf_counter() - started < 0.5 + PROBATION_SECONDS + 0.4
    assert not any(placed)


def test_a_function_that_waits_stays_in_threads(context: StepContext) -> None:
    def naps() -> int:
        time.sleep(0.001)
        return threading.get_ident()

    assert not any(on_loop(calls(PythonAction(naps), context, PROMOTE_AFTER * 2)))


def test_a_function_that_blocks_on_the_loop_goes_back_to_threads_and_says_so(
    context: StepContext, caplog: pytest.LogCaptureFixture
) -> None:
    count = 0

    def slow_once() -> int:
        nonlocal count
        count += 1
        if count == 1:
            time.sleep(0.005)
        return threading.get_ident()

    action = promoted(PythonAction(slow_once, name="function 'slow_once'"))
    assert on_loop(calls(action, context, 3)) == [True, False, False]
    (record,) = caplog.records
    assert record.getMessage().startswith("function 'slow_once' held up the event loop for ")
    assert "mark it @kflow.in_thread if it can block" in record.getMessage()


def test_a_function_that_starts_its_own_event_loop_is_run_again_in_a_thread(
    context: StepContext, caplog: pytest.LogCaptureFixture
) -> None:
    async def answer() -> int:
        return 42

    def nested() -> dict[str, int]:
        return {"answer": asyncio.run(answer()), "thread": threading.get_ident()}

    action = promoted(PythonAction(nested, name="function 'nested'"))
    results = calls(action, context, PROMOTE_AFTER * 2)
    assert all(r["answer"] == 42 for r in results)
    assert not any(on_loop([r["thread"] for r in results]))
    assert not action.placement.on_loop
    assert [r.getMessage() for r in caplog.records] == [
        "function 'nested' starts an event loop of its own; it runs in worker threads from now on"
    ]


def test_a_function_marked_in_thread_never_runs_on_the_loop(context: StepContext) -> None:
    @kflow.in_thread
    def pinned() -> int:
        return threading.get_ident()

    assert not any(on_loop(calls(PythonAction(pinned), context, PROMOTE_AFTER * 2)))


def test_errors_of_a_function_on_the_loop_propagate_unchanged(context: StepContext) -> None:
    def fails() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing") as caught:
        calls(promoted(PythonAction(fails)), context, 1)
    # Called by kflow's driver, the outermost frames are kflow's: drop the test's own.
    error = caught.value
    while error.__traceback__ and error.__traceback__.tb_frame.f_globals["__name__"] != (
        "kflow.actions.python"
    ):
        error.__traceback__ = error.__traceback__.tb_next
    text = classify(error, with_traceback=True).traceback
    assert text is not None and "in fails" in text
    assert "kflow/" not in text, "the traceback should start at the step's own code"


class ObservedCalls:
    """Wraps a placement's `observe` to keep what each call reported."""

    def __init__(self, action: PythonAction) -> None:
        self.seen: list[tuple[float, bool]] = []
        self._observe = action.placement.observe
        action.placement.observe = self  # type: ignore[method-assign]

    def __call__(self, wall: float, cpu: float, *, ran_on_loop: bool, **flags: bool) -> bool:
        self.seen.append((wall, ran_on_loop))
        return self._observe(wall, cpu, ran_on_loop=ran_on_loop, **flags)


def test_a_thread_call_cut_off_by_the_steps_timeout_ends_the_quick_streak(
    context: StepContext,
) -> None:
    release = threading.Event()

    def blocks() -> None:
        release.wait(5)

    action = PythonAction(blocks)
    calls_seen = ObservedCalls(action)

    async def timed_out() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(action({}, context), 0.01)
        release.set()

    asyncio.run(timed_out())
    assert calls_seen.seen == [(math.inf, False)]


def test_an_error_raised_in_a_thread_is_timed_and_propagates_unchanged(
    context: StepContext,
) -> None:
    def fails() -> None:
        raise ValueError("bad input")

    action = PythonAction(fails)
    calls_seen = ObservedCalls(action)
    with pytest.raises(ValueError, match="bad input") as caught:
        calls(action, context, 1)
    ((wall, ran_on_loop),) = calls_seen.seen
    assert wall < 1 and not ran_on_loop
    text = classify(caught.value, with_traceback=True).traceback
    assert text is not None and "in fails" in text


def test_only_a_sync_function_proved_quick_may_be_called_inline() -> None:
    def quick() -> int:
        return 1

    async def coroutine_function() -> int:
        return 1

    @kflow.in_thread
    def pinned() -> int:
        return 1

    assert not PythonAction(quick).inline  # it has yet to prove itself
    assert promoted(PythonAction(quick)).inline
    assert not promoted(PythonAction(coroutine_function)).inline  # awaited as it is
    pinned_action = PythonAction(pinned)
    pinned_action.placement.observe(0.00001, 0.00001, ran_on_loop=False)
    assert not pinned_action.inline


def test_an_inline_call_binds_the_step_and_checks_the_inputs_first(
    context: StepContext,
) -> None:
    def step_of(x: int) -> tuple[StepContext, int]:
        return current_step(), x

    action = promoted(PythonAction(step_of, name="function 'step_of'"))
    assert action.call_inline({"x": 3}, context) == (context, 3)
    with pytest.raises(kflow.StepFailure, match="missing required parameter 'x'"):
        action.call_inline({}, context)
    with pytest.raises(RuntimeError, match="outside a kflow step"):
        current_step()  # unbound again after the call
