"""Sync step functions run in threads and their results come back to the loop in batches."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
import weakref

import pytest

from kflow.actions.threads import run_in_thread

_label: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="none")


def test_a_thousand_concurrent_calls_all_return_their_own_result() -> None:
    def double(x: int) -> int:
        return 2 * x

    async def many() -> list[int]:
        return list(await asyncio.gather(*(run_in_thread(double, {"x": i}) for i in range(1000))))

    assert asyncio.run(many()) == [2 * i for i in range(1000)]


def test_calls_run_off_the_loop_thread_in_the_callers_context() -> None:
    def where() -> tuple[str, str]:
        return threading.current_thread().name, _label.get()

    async def call() -> tuple[str, str]:
        _label.set("step-a")
        result: tuple[str, str] = await run_in_thread(where, {})
        return result

    name, label = asyncio.run(call())
    assert name.startswith("kflow-step") and label == "step-a"


def test_an_exception_in_the_thread_is_raised_to_the_awaiting_task() -> None:
    def boom() -> None:
        raise KeyError("missing")

    async def call() -> None:
        await run_in_thread(boom, {})

    with pytest.raises(KeyError, match="missing"):
        asyncio.run(call())


def test_blocking_calls_overlap() -> None:
    barrier = threading.Barrier(8, timeout=5)

    async def together() -> None:
        await asyncio.gather(*(run_in_thread(barrier.wait, {}) for _ in range(8)))

    asyncio.run(together())  # would time out if the calls ran one at a time


def step_threads() -> int:
    return sum(t.name.startswith("kflow-step") for t in threading.enumerate())


def test_a_finished_loops_threads_end_with_it() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def one_call() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        await run_in_thread(threading.get_ident, {})

    before = step_threads()
    for _ in range(5):
        asyncio.run(one_call())
    gc.collect()
    assert all(loop() is None for loop in loops), "a finished loop is still held"
    deadline = time.monotonic() + 5
    while step_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert step_threads() <= before


def test_a_call_that_outlives_its_loop_does_not_keep_the_loop_alive() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    release = threading.Event()

    async def gives_up() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run_in_thread(release.wait, {"timeout": 5}), 0.01)

    asyncio.run(gives_up())
    release.set()  # the call returns now, after its loop has closed
    deadline = time.monotonic() + 5
    while loops[0]() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
        gc.collect()
    assert loops[0]() is None, "the closed loop is still held by the finished call"
