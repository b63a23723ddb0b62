"""Running sync step functions in worker threads, with results handed back in batches.

`asyncio.to_thread` wakes the event loop once per finished call. When many sync steps
finish together (a wide fan-out, many runs at once) that wake-up dominates the cost of a
quick step; here a finished call only wakes the loop if no wake-up is pending yet, and the
loop then settles every call that finished in the meantime.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kflow.actions.placement import thread_work

THREADS = 64
"""Sync steps of one event loop that may run at once (blocking ones each hold a thread)."""

_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class ThreadHandoff:
    """A thread pool for one event loop, returning results to it in batches.

    It holds no reference to the loop (each call's future knows its loop), so a loop
    that is done with can be collected, and its threads end with it.
    """

    def __init__(self, threads: int = THREADS) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kflow-step")
        self._lock = threading.Lock()
        self._finished: list[_Outcome] = []
        self._wake_pending = False

    def run(
        self, loop: asyncio.AbstractEventLoop, func: Callable[..., Any], kwargs: Mapping[str, Any]
    ) -> asyncio.Future[Any]:
        """Call `func(**kwargs)` in a thread, in a copy of the caller's context; the
        future is `loop`'s."""
        future: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()  # so current_step() works in the thread too
        self._pool.submit(self._call, future, context, func, kwargs)
        return future

    def _call(
        self,
        future: asyncio.Future[Any],
        context: contextvars.Context,
        func: Callable[..., Any],
        kwargs: Mapping[str, Any],
    ) -> None:
        thread_work.begin()
        try:
            outcome: _Outcome = (future, context.run(func, **kwargs), None)
        except BaseException as exc:  # handed to the awaiting task, which re-raises it
            outcome = (future, None, exc)
        finally:
            thread_work.end()
        with self._lock:
            self._finished.append(outcome)
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            future.get_loop().call_soon_threadsafe(self._settle)
        except RuntimeError:  # the loop has closed: nobody awaits these results any more
            with self._lock:  # and the futures must not keep the closed loop alive
                self._finished, self._wake_pending = [], False

    def _settle(self) -> None:
        with self._lock:
            finished, self._finished, self._wake_pending = self._finished, [], False
        for future, result, error in finished:
            if future.cancelled():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def shutdown(self) -> None:
        """Let the threads end once their calls are done."""
        self._pool.shutdown(wait=False)


_handoffs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadHandoff] = (
    weakref.WeakKeyDictionary()
)


def run_in_thread(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> asyncio.Future[Any]:
    """Run a sync callable in the running loop's step threads and await its result."""
    loop = asyncio.get_running_loop()
    handoff = _handoffs.get(loop)
    if handoff is None:
        handoff = _handoffs[loop] = ThreadHandoff()
        weakref.finalize(loop, handoff.shutdown)
    return handoff.run(loop, func, kwargs)
