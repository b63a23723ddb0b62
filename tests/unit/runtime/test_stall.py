"""The stall watch: a loop that stops ticking is reported while it is blocked, with who
blocks it, then again when it runs; a loop that only waits is not; the watching thread
lives while some loop is watched."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from kflow.runtime.stall import StallWatch


def _blocking_here(seconds: float) -> None:
    time.sleep(seconds)


def _quick_watch() -> StallWatch:
    return StallWatch(stall_seconds=0.3, check_seconds=0.02, tick_seconds=0.02)


def _on_a_loop_thread(main: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    thread = threading.Thread(target=lambda: asyncio.run(main()), name=name)
    thread.start()
    thread.join()


def _messages(caplog: pytest.LogCaptureFixture, part: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if part in r.getMessage()]


def logged_eventually(caplog: pytest.LogCaptureFixture, part: str) -> list[str]:
    """The messages holding `part`, once there is one (or after 3 s): the watching thread
    logs after it lets go of its lock, which may be after the watched loop has moved on."""
    deadline = time.monotonic() + 3
    while not (found := _messages(caplog, part)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


@pytest.fixture(autouse=True)
def _warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kflow.runtime.stall")


def test_a_step_blocking_the_loop_is_named_while_it_blocks_then_its_return(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = _quick_watch()

    async def main() -> None:
        ticks = watch.watch()
        await asyncio.sleep(0.1)
        _blocking_here(0.9)
        await asyncio.sleep(0.1)
        watch.unwatch(ticks)

    _on_a_loop_thread(main, "fake-loop")
    logged_eventually(caplog, "runs again")
    blocked = [r for r in caplog.records if "has not run for" in r.getMessage()]
    assert len(blocked) == 1
    message = blocked[0].getMessage()
    assert "the event loop kflow runs on (thread fake-loop) has not run for 0." in message
    assert "a step blocks it" in message
    assert "in main" in message and "_blocking_here(0.9)" in message
    assert "in _blocking_here" in message and "time.sleep(seconds)" in message
    assert "@kflow.in_thread" in message and "asyncio.sleep, not time.sleep" in message
    assert "base_events.py" not in message  # the loop's own frames are left out
    assert getattr(blocked[0], "action") == "event_loop_blocked"
    assert "time.sleep(seconds)" in getattr(blocked[0], "stack")
    resumed = _messages(caplog, "runs again")
    assert len(resumed) == 1 and "(thread fake-loop) runs again after 0." in resumed[0]


def test_a_loop_that_only_waits_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    watch = _quick_watch()

    async def main() -> None:
        ticks = watch.watch()
        await asyncio.sleep(1.0)  # over three times the stall threshold, without blocking
        watch.unwatch(ticks)

    _on_a_loop_thread(main, "waiting-loop")
    assert caplog.records == []


def test_a_loop_busy_with_kflows_own_work_is_reported_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = _quick_watch()

    async def main() -> None:
        ticks = watch.watch()
        done = asyncio.get_running_loop().create_future()
        # A callback with no frame of a step's code below the loop.
        asyncio.get_running_loop().call_soon(time.sleep, 0.9)
        asyncio.get_running_loop().call_later(0.05, done.set_result, None)
        await done
        watch.unwatch(ticks)

    _on_a_loop_thread(main, "busy-loop")
    [message] = logged_eventually(caplog, "has not run for")
    assert "busy with kflow's own work" in message and "spread them over workers" in message
    assert "@kflow.in_thread" not in message


def test_the_thread_lives_while_a_loop_is_watched(caplog: pytest.LogCaptureFixture) -> None:
    watch = StallWatch(stall_seconds=10, check_seconds=0.01)
    threads: list[threading.Thread | None] = []

    async def main() -> None:
        first = watch.watch()
        second = watch.watch()  # a second worker on the same loop shares its ticks
        assert first is second and first is not None and first.watchers == 2
        threads.append(watch._thread)
        watch.unwatch(first)
        assert watch._thread is threads[0] and not watch._stop.is_set()
        watch.unwatch(second)
        assert watch._stop.is_set()  # the last loop let go: the thread is ending
        again = watch.watch()  # a new worker at once: a new thread, whatever the old does
        threads.append(watch._thread)
        assert threads[1] is not threads[0]
        watch.unwatch(again)

    _on_a_loop_thread(main, "loop")
    for thread in threads:
        assert thread is not None
        thread.join(timeout=2)
        assert not thread.is_alive()
    assert watch._thread is None and caplog.records == []
