"""kflow's event loop: asyncio's, with timers that fire on time rather than up to 1 ms late.

Python's epoll selector waits in whole milliseconds, rounded up, and an idle virtual CPU
takes a further ~0.2 ms to wake: every `sleep` step, retry backoff and deadline fires
about 1 ms late. On a DAG of short steps that adds up to several per cent of the
makespan. `PreciseSelector` waits on the epoll descriptor with `select()` (microsecond
timeouts), wakes a little early by the wake-up latency it has observed, and polls for
the rest of the wait. Loops that kflow does not create (an application's own) keep
asyncio's precision; everything else works the same on them.

kflow's loop also says when its next timer falls due (`quiet_for`), so that a commit
that someone waits for can be made in place when no timer would be held up by it.
"""

from __future__ import annotations

import asyncio
import math
import select
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_SELECT_LIMIT = 1024
"""`select()` cannot watch descriptors at or above FD_SETSIZE."""
_MAX_EARLY = 0.001
"""Never wake more than this early: the rest of the wait is spent polling."""
_SMOOTHING = 0.1
"""Weight of the newest latency sample in the running estimate."""
_INITIAL_LATENCY = 0.0002
"""The wake-up latency assumed before any has been measured (a typical VM's)."""


class PreciseSelector(selectors.EpollSelector):
    """An epoll selector whose timed waits end within microseconds of their deadline."""

    def __init__(self) -> None:
        super().__init__()
        self._precise = self.fileno() < _SELECT_LIMIT
        self.latency = _INITIAL_LATENCY
        """How late a timed wait has recently woken up, in seconds (a running estimate)."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for I/O for at most `timeout` seconds (None: until there is some)."""
        if not self._precise or timeout is None or timeout <= 0:
            return super().select(timeout)
        wait = timeout - self.latency
        if wait > 0:
            started = time.monotonic()
            ready, _, _ = select.select([self.fileno()], [], [], wait)
            if not ready:
                late = time.monotonic() - started - wait
                sample = min(max(late, 0.0), _MAX_EARLY)
                self.latency += (sample - self.latency) * _SMOOTHING
                return []  # woken early, by design: the loop comes back to poll
        # Within the last `latency` of the wait (or I/O is ready): poll, and let the loop
        # come back.
        return super().select(0)


class _KflowLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, with precise timers and a look at its own schedule."""

    def __init__(self) -> None:
        super().__init__(PreciseSelector())

    def quiet_for(self, ignoring: asyncio.TimerHandle | None = None) -> float:
        """Seconds until a timer other than `ignoring` falls due (0 if a callback is ready;
        inf if no timer waits). I/O and other threads may still wake the loop sooner."""
        # asyncio keeps these internals alike from 3.8 to 3.13. The timers are a heap:
        # past a head that is `ignoring` or cancelled, the next one due is no earlier than
        # the head's two children (a cancelled child only makes the answer shorter).
        if self._ready:  # type: ignore[attr-defined]
            return 0.0
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        heads = scheduled[:1]
        if heads and (heads[0] is ignoring or heads[0].cancelled()):
            heads = scheduled[1:3]
        return min(h.when() for h in heads) - self.time() if heads else math.inf


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop with precise timers."""
    return _KflowLoop()


def quiet_for(
    loop: asyncio.AbstractEventLoop, ignoring: asyncio.TimerHandle | None = None
) -> float:
    """Seconds until a timer of `loop` other than `ignoring` falls due (see
    `_KflowLoop.quiet_for`); 0 for a loop kflow did not make, whose schedule it cannot see."""
    return loop.quiet_for(ignoring) if isinstance(loop, _KflowLoop) else 0.0


def run(main: Coroutine[Any, Any, T]) -> T:
    """Like `asyncio.run(main)`, on a loop with precise timers."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        # A Runner given a factory does not make its loop the current one, which child
        # watchers that attach to the current loop need (subprocesses).
        asyncio.set_event_loop(runner.get_loop())
        try:
            return runner.run(main)
        finally:
            asyncio.set_event_loop(None)
