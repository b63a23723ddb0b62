"""The stall watch: a loop that stops ticking is reported while it is blocked, then again
when it runs; the watching thread lives only while some loop is watched."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from kflow.runtime.stall import StallWatch


def _blocking_here(seconds: float) -> None:
    time.sleep(seconds)


def _run_a_loop_that_blocks(watch: StallWatch, seconds: float) -> None:
    ticks = watch.watch()
    for _ in range(5):  # a loop ticking along
        ticks.tick()
        time.sleep(0.01)
    _blocking_here(seconds)
    for _ in range(10):  # and ticking again
        ticks.tick()
        time.sleep(0.01)
    watch.unwatch(ticks)


def test_a_blocked_loop_is_reported_once_with_its_stack_then_when_it_runs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kflow.runtime.stall")
    watch = StallWatch(stall_seconds=0.2, check_seconds=0.02)
    loop_thread = threading.Thread(
        target=_run_a_loop_that_blocks, args=(watch, 0.6), name="fake-loop"
    )
    loop_thread.start()
    loop_thread.join()
    blocked = [r for r in caplog.records if "has not run for" in r.getMessage()]
    assert len(blocked) == 1
    message = blocked[0].getMessage()
    assert "kflow's event loop (thread fake-loop) has not run for 0." in message
    assert "in _blocking_here" in message and "time.sleep(seconds)" in message
    assert "@kflow.in_thread" in message and "asyncio.sleep, not time.sleep" in message
    assert getattr(blocked[0], "action") == "event_loop_blocked"
    resumed = [r.getMessage() for r in caplog.records if "runs again" in r.getMessage()]
    assert len(resumed) == 1 and "(thread fake-loop)" in resumed[0]
    assert "blocked for about 0." in resumed[0]


def test_a_loop_that_keeps_ticking_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kflow.runtime.stall")
    watch = StallWatch(stall_seconds=0.2, check_seconds=0.02)
    loop_thread = threading.Thread(target=_run_a_loop_that_blocks, args=(watch, 0.05))
    loop_thread.start()
    loop_thread.join()
    time.sleep(0.1)
    assert caplog.records == []


def test_workers_on_one_loop_share_its_ticks_and_the_thread_ends_with_the_last() -> None:
    watch = StallWatch(stall_seconds=10, check_seconds=0.01)
    first = watch.watch()
    second = watch.watch()
    assert first is second and first.watchers == 2
    thread = watch._thread
    assert thread is not None and thread.is_alive()
    watch.unwatch(first)
    assert watch._loops  # one worker still runs on this loop
    watch.unwatch(second)
    assert not watch._loops
    thread.join(timeout=2)
    assert not thread.is_alive()
    again = watch.watch()  # a new worker later gets a new thread
    assert watch._thread is not None and watch._thread is not thread
    assert watch._thread.is_alive()
    watch.unwatch(again)
