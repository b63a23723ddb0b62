"""kflow's event loop: precise timers that never fire early, and I/O that still wakes it."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from kflow.runtime import loop


def test_timers_never_fire_before_their_deadline() -> None:
    async def lateness() -> list[float]:
        event_loop = asyncio.get_running_loop()
        found = []
        for delay in (0.0005, 0.002, 0.0137, 0.03) * 5:
            start = event_loop.time()
            await asyncio.sleep(delay)
            found.append(event_loop.time() - start - delay)
        return found

    assert min(loop.run(lateness())) >= 0


def test_io_wakes_a_loop_that_waits_on_a_long_timer() -> None:
    async def wait_for_data() -> float:
        event_loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        with reader, writer:
            reader.setblocking(False)
            event_loop.call_later(0.05, writer.send, b"x")
            sleeper = asyncio.ensure_future(asyncio.sleep(10))
            start = time.monotonic()
            assert await event_loop.sock_recv(reader, 1) == b"x"
            sleeper.cancel()
            return time.monotonic() - start

    assert loop.run(wait_for_data()) < 5


def test_the_selector_learns_how_late_the_machine_wakes_up() -> None:
    selector = loop.PreciseSelector()
    try:
        for _ in range(20):
            assert selector.select(0.002) == []
        assert 0 <= selector.latency <= 0.001
    finally:
        selector.close()


def test_a_descriptor_too_high_for_select_falls_back_to_epoll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loop, "_SELECT_LIMIT", 0)
    selector = loop.PreciseSelector()
    try:
        start = time.monotonic()
        assert selector.select(0.003) == []
        assert time.monotonic() - start >= 0.003
        assert selector.latency == loop._INITIAL_LATENCY  # select() was never used
    finally:
        selector.close()


def test_run_returns_the_coroutines_result_and_closes_its_loop() -> None:
    async def answer() -> tuple[int, asyncio.AbstractEventLoop]:
        return 42, asyncio.get_running_loop()

    value, used = loop.run(answer())
    assert value == 42
    assert used.is_closed()
    assert isinstance(used, asyncio.SelectorEventLoop)


def test_subprocesses_work_under_a_child_watcher_that_attaches_to_the_current_loop() -> None:
    async def echo() -> bytes:
        process = await asyncio.create_subprocess_exec("echo", "hi", stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
        return out

    policy = asyncio.get_event_loop_policy()
    watcher = asyncio.SafeChildWatcher()
    policy.set_child_watcher(watcher)
    try:
        assert loop.run(echo()) == b"hi\n"
    finally:
        watcher.close()
        policy.set_child_watcher(asyncio.ThreadedChildWatcher())


def test_kflows_loop_says_how_long_it_will_stay_quiet() -> None:
    async def quiet() -> list[float]:
        event_loop = asyncio.get_running_loop()
        found = [loop.quiet_for(event_loop)]  # nothing scheduled
        timer = event_loop.call_later(10.0, lambda: None)
        found.append(loop.quiet_for(event_loop))
        event_loop.call_soon(lambda: None)
        found.append(loop.quiet_for(event_loop))  # a callback is ready: busy now
        timer.cancel()
        return found

    nothing, timer, ready = loop.run(quiet())
    assert nothing == float("inf") and 9.9 < timer <= 10.0 and ready == 0.0


def test_a_timer_ignored_or_cancelled_at_the_head_does_not_count() -> None:
    async def quiet() -> list[float]:
        event_loop = asyncio.get_running_loop()
        first = event_loop.call_later(0.5, lambda: None)
        later = event_loop.call_later(5.0, lambda: None)
        found = [loop.quiet_for(event_loop), loop.quiet_for(event_loop, ignoring=first)]
        first.cancel()
        found.append(loop.quiet_for(event_loop))
        later.cancel()
        return found

    first, ignored, cancelled = loop.run(quiet())
    assert 0.4 < first <= 0.5 and 4.9 < ignored <= 5.0 and 4.9 < cancelled <= 5.0


def test_a_loop_kflow_did_not_make_is_never_known_to_be_quiet() -> None:
    async def quiet() -> float:
        return loop.quiet_for(asyncio.get_running_loop())

    assert asyncio.run(quiet()) == 0.0
