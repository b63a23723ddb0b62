"""Where a sync step function runs: a worker thread, or on the event loop when it is quick.

A worker thread keeps a blocking function (network, disk, `time.sleep`) from stalling
every other step, but the hop there and back costs two thread wake-ups, ~0.1 ms on a
virtual machine: more than most glue functions take to run. Under the GIL a function
that never waits gains nothing from a thread anyway, so kflow watches each function:

- it starts in threads, where each call's wall time and the thread's CPU time are taken;
- after `PROMOTE_AFTER` calls in a row that were quick (`QUICK_SECONDS`) and never
  waited (wall time within `WAIT_SLACK_SECONDS` of CPU time), it runs on the loop;
- one call on the loop longer than `QUICK_SECONDS` that blocked (gave up the CPU itself)
  at all, or that computed, sends it back to threads (a call that only lost the CPU to
  the VM or to a garbage collection does not); if it took no longer than
  twice the GIL's switch interval and computed, or blocked while kflow's own threads were
  at work (a wait for the GIL?), the first such call is forgiven, once per promotion;
  and each
  demotion makes the next promotion need `BACKOFF` times more quick calls, so a
  function that is quick only most of the time stalls the loop a bounded number of times;
- once enough calls are under way in threads to prove it quick, further calls wait up
  to `PROBATION_SECONDS` for their verdict rather than join them: 1,000 runs starting
  at once would otherwise send all 1,000 first calls through threads.

A function that starts an event loop of its own cannot run on kflow's: the call that
fails that way moves it back to threads for good and runs again there. Decorate a
function with `@kflow.in_thread` to keep it in threads whatever it measures.
"""

from __future__ import annotations

import gc
import inspect
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

try:
    import resource
except ImportError:  # Windows
    _RUSAGE_THREAD = None
else:
    _RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)  # Linux

F = TypeVar("F", bound=Callable[..., Any])

QUICK_SECONDS = 0.0005
"""A call at most this long may run on the loop (a thread hop costs ~0.1 ms)."""
WAIT_SLACK_SECONDS = 0.0001
"""Wall time beyond CPU time up to which a call counts as never having waited."""
PROMOTE_AFTER = 16
"""Quick calls in a row, in threads, before a function first runs on the loop."""
BACKOFF = 16
"""Each demotion multiplies the quick calls needed for the next promotion by this."""
PROBATION_SECONDS = 0.005
"""How long a call may wait for the calls under way in threads to prove a function quick
(a quick function's calls come back in well under a millisecond)."""

_PINNED = "__kflow_in_thread__"
_OWN_LOOP_ERRORS = (
    "cannot be called from a running event loop",
    "This event loop is already running",
    "Cannot run the event loop while another loop is running",
)


def in_thread(func: F) -> F:
    """Always run this sync step function in a worker thread (never on the loop)."""
    setattr(func, _PINNED, True)
    return func


def is_pinned_to_threads(func: Callable[..., Any]) -> bool:
    """Whether `func` (or the function behind a bound method) was marked `in_thread`."""
    return bool(getattr(getattr(func, "__func__", func), _PINNED, False))


def starts_own_loop(exc: BaseException) -> bool:
    """Whether `exc` is asyncio refusing to start a loop inside kflow's running one."""
    return isinstance(exc, RuntimeError) and any(t in str(exc) for t in _OWN_LOOP_ERRORS)


def close_unstarted_coroutines(exc: BaseException) -> None:
    """Close the coroutines asyncio was handed when it raised `exc` and never started.

    Running the call again in a thread makes new ones; closing these keeps a "coroutine
    was never awaited" warning from following the refusal.
    """
    trace = exc.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_globals.get("__name__", "").startswith("asyncio."):
            for value in frame.f_locals.values():
                if (
                    inspect.iscoroutine(value)
                    and inspect.getcoroutinestate(value) == "CORO_CREATED"
                ):
                    value.close()
        trace = trace.tb_next


class Placement:
    """Decides, call by call, whether one function runs on the loop or in a thread."""

    def __init__(self, pinned: bool = False) -> None:
        self.on_loop = False
        """Whether the next call runs on the event loop."""
        self._pinned = pinned
        self._streak = 0
        self._needed = PROMOTE_AFTER
        self._in_threads = 0
        """Calls started in threads and not yet observed."""
        self._observed = False
        """Whether any call has been observed (a streak of 0 after one means it was slow)."""
        self._forgiven = False
        """Whether a slow call on the loop was forgiven since the last promotion."""

    def start_in_thread(self) -> None:
        """Count a call that starts in a thread (its `observe` ends it)."""
        self._in_threads += 1

    @property
    def proving(self) -> bool:
        """Whether the calls under way in threads would promote the function if all were
        quick: a new call may then wait for their verdict instead of adding to them."""
        if self.on_loop or self._pinned or not self._in_threads:
            return False
        if self._observed and not self._streak:
            return False  # the last call was slow: no verdict is coming within a few ms
        return self._streak + self._in_threads >= self._needed

    def observe(
        self,
        wall: float,
        cpu: float,
        *,
        ran_on_loop: bool,
        blocked: bool = True,
        contended: bool = False,
    ) -> bool:
        """Take in one call's wall and CPU seconds; True if it ran on the loop and was too
        slow for it (the function is back in threads). `blocked`: whether the call gave up
        the CPU itself (see `thread_usage`); `contended`: whether kflow's threads were at
        work meanwhile (see `spent_since`). Pass `math.inf` as the wall time of a call
        that was cancelled before it returned."""
        self._observed = True
        if ran_on_loop:
            # What counts on the loop is how long every other step was held up, and by
            # what: computing or blocking. A long call that did neither lost the CPU to
            # the OS or the VM (a thread would have lost it too): no reason to demote.
            quick = wall <= QUICK_SECONDS or (cpu <= QUICK_SECONDS and not blocked)
            # A call of a few ms that computed, or that blocked while kflow's own threads
            # worked, may not be the function's doing: a page fault that zeroes a huge
            # page costs ~1 ms, and a thread keeps the GIL for a switch interval (5 ms).
            # The first is forgiven; once per promotion keeps the stalls bounded.
            doubtful = wall <= strike_seconds() and (contended or not blocked)
            if not quick and doubtful and not self._forgiven:
                self._forgiven = True
                return False
        else:
            self._in_threads = max(self._in_threads - 1, 0)
            quick = wall <= QUICK_SECONDS and wall - cpu <= WAIT_SLACK_SECONDS
        if quick:
            self._streak += 1
            if self._streak >= self._needed and not self._pinned and not self.on_loop:
                self.on_loop, self._forgiven = True, False
            return False
        if not self.on_loop:  # (already back in threads, e.g. demoted for good)
            self._streak = 0
            return False
        # Also for a slow call that began in a thread before the promotion: the function
        # can be slow, and its next call would run on the loop.
        self.demote()
        return ran_on_loop

    def demote(self, *, for_good: bool = False) -> None:
        """Send the function back to threads (for good: never promote it again)."""
        self.on_loop = False
        self._streak = 0
        self._needed *= BACKOFF
        self._pinned = self._pinned or for_good


def strike_seconds() -> float:
    """The longest call on the loop that may be forgiven once (see `Placement.observe`):
    twice the GIL's switch interval, since a wait for the GIL lasts up to one."""
    return 2 * sys.getswitchinterval()


def thread_usage() -> tuple[float, int | None]:
    """This thread's CPU seconds so far, and how many times it has blocked (given up the
    CPU itself: I/O, a sleep, a lock); None where the OS does not count that."""
    # getrusage's CPU time moves in steps of 0.5-4 ms on this VM, so it can run ahead of
    # the wall clock over a short call (`Placement.observe` forgives one). The thread's own CPU
    # clock is exact, but with it the GIL waits of a call in a thread count as waiting,
    # and functions were then rarely promoted: kept as it is for now.
    if _RUSAGE_THREAD is not None:
        try:
            usage = resource.getrusage(_RUSAGE_THREAD)
        except OSError:  # a sandbox that refuses it
            pass
        else:
            return usage.ru_utime + usage.ru_stime, usage.ru_nvcsw
    return time.thread_time(), None


class _CollectorTime:
    """Seconds the garbage collector has run in this process, kept by a `gc` callback."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: Mapping[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began:  # (a collection under way when this callback was added: skipped)
            self.seconds += time.perf_counter() - self._began
            self._began = 0.0


_collector = _CollectorTime()
gc.callbacks.append(_collector)


class ThreadWork:
    """Work under way in kflow's own threads (step calls, commits). Meanwhile a call on
    the loop can lose the GIL to one of them, and that wait counts as blocking."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all work (a forked child has none of its parent's threads)."""
        self._lock = threading.Lock()
        self.busy = 0
        """Pieces of work under way now."""
        self.begun = 0
        """Pieces of work begun so far."""

    def begin(self) -> None:
        """A thread starts a piece of work (call `end` when it is done, even on error)."""
        with self._lock:
            self.busy += 1
            self.begun += 1

    def end(self) -> None:
        """The piece of work `begin` announced is done."""
        with self._lock:
            self.busy -= 1


thread_work = ThreadWork()
os.register_at_fork(after_in_child=thread_work.reset)

Mark = tuple[float, float, int | None, float, int, int]
"""Where a thread stands: wall clock, CPU seconds, times blocked, collector seconds, and
kflow's thread work busy and begun."""


def mark() -> Mark:
    """Where this thread stands now (see `spent_since`)."""
    cpu, switches = thread_usage()
    work = thread_work
    begun = work.begun  # before `busy`: a piece begun in between is then seen as busy
    return time.perf_counter(), cpu, switches, _collector.seconds, work.busy, begun


def spent_since(start: Mark) -> tuple[float, float, bool, bool]:
    """(wall seconds, CPU seconds, blocked, contended) since `start`, less the time the
    garbage collector ran meanwhile: a collection stalls every thread wherever it is
    triggered, so it is not the doing of the call it happens to fall in. `contended`:
    kflow's own threads were at work meanwhile (a block may have been a wait for the GIL)."""
    wall, cpu, switches, collected, busy, begun = start
    wall_now, cpu_now, switches_now, collected_now, _, begun_now = mark()
    collecting = collected_now - collected
    return (
        max(wall_now - wall - collecting, 0.0),
        max(cpu_now - cpu - collecting, 0.0),
        switches is None or switches_now != switches,
        busy > 0 or begun_now != begun,
    )


def timed_call(
    func: Callable[..., Any], kwargs: Mapping[str, Any]
) -> tuple[Any, Exception | None, float, float]:
    """Call `func(**kwargs)`; return its result or error, with the call's wall and CPU seconds.

    CPU time is this thread's own, so it can be taken in a worker thread too.
    """
    start = mark()
    try:
        result, error = func(**kwargs), None
    except Exception as exc:  # timed like a result; the caller raises it
        result, error = None, exc
    wall, cpu, _, _ = spent_since(start)
    return result, error, wall, cpu
