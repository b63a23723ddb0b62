"""Noticing, while it lasts, that something blocks the event loop a worker runs on.

kflow runs async steps and sync functions proved quick on its event loop. One that blocks
there (`time.sleep` in an `async def`, a blocking client, a function quick until it is
not) holds up every step of every run in the worker; past `LEASE_SECONDS` without a
heartbeat, other workers may take its runs over. After the fact, a sync function is sent
back to threads (`kflow.actions.placement`); this says so while the loop is stuck, with
where its thread is, so that a hang has a culprit.

Each worker's housekeeping ticks on the loop every `CONTROL_POLL_SECONDS`. A thread of
this module reads the ticks: a loop that has not ticked for `STALL_SECONDS` gets one
warning with its thread's stack, and a second when it runs again. Nothing is added to
the loop's hot path.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from kflow.runtime.leases import LEASE_SECONDS

_log = logging.getLogger(__name__)

STALL_SECONDS = 1.0
"""How long a loop may go without a tick before it is reported as blocked."""
CHECK_SECONDS = 0.25
"""How often the watching thread looks at the ticks."""
STACK_FRAMES = 12
"""Innermost frames of the blocked thread shown in the warning."""


@dataclass(eq=False)
class Ticks:
    """The ticks of one event loop, shared by the workers on it."""

    thread_id: int
    """The thread that runs the loop (whose stack a warning shows)."""
    thread_name: str
    last: float = field(default_factory=time.monotonic)
    """When the loop last ticked (`time.monotonic`)."""
    watchers: int = 1
    stalled_since: float | None = None
    """The last tick before a stall that was reported (None: none is under way)."""

    def tick(self) -> None:
        """The loop is running: called from the loop, often (a float store)."""
        self.last = time.monotonic()


class StallWatch:
    """One thread per process that warns about loops that stopped ticking."""

    def __init__(
        self, stall_seconds: float = STALL_SECONDS, check_seconds: float = CHECK_SECONDS
    ) -> None:
        self.stall_seconds = stall_seconds
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._loops: dict[int, Ticks] = {}
        """By the id of the thread running the loop."""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def watch(self) -> Ticks:
        """Watch the calling thread's loop (call from the loop); `unwatch` when done."""
        thread = threading.current_thread()
        key = thread.ident or 0
        with self._lock:
            ticks = self._loops.get(key)
            if ticks is None:
                ticks = self._loops[key] = Ticks(key, thread.name)
            else:
                ticks.watchers += 1
                ticks.tick()
            # A thread told to stop (its last loop was let go) may not have ended yet.
            if self._thread is None or self._stop.is_set():
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="kflow-stall-watch", daemon=True
                )
                self._thread.start()
        return ticks

    def unwatch(self, ticks: Ticks) -> None:
        """Stop watching for one worker; the loop is let go once its last worker is."""
        with self._lock:
            ticks.tick()  # called from the loop: it runs
            report = self._returned(ticks)
            ticks.watchers -= 1
            if ticks.watchers <= 0 and self._loops.get(ticks.thread_id) is ticks:
                del self._loops[ticks.thread_id]
                if not self._loops:
                    self._stop.set()  # the thread ends within a check
        _emit([report])

    def reset(self) -> None:
        """Forget every loop and the thread (a forked child has neither)."""
        self._lock = threading.Lock()
        self._loops = {}
        self._thread = None
        self._stop = threading.Event()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.check_seconds):
            # Under the lock, so that `unwatch` and a check never both report one return;
            # logged after it, so that a slow log handler holds up no worker.
            with self._lock:
                now = time.monotonic()
                reports = [self._check(ticks, now) for ticks in self._loops.values()]
            _emit(reports)
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None

    def _check(self, ticks: Ticks, now: float) -> _Report | None:
        """The warning due for `ticks`'s loop: it has not ticked for `stall_seconds` (once
        per stall), or it runs again after that; None if neither."""
        if ticks.stalled_since is not None:
            return self._returned(ticks)
        blocked = now - ticks.last
        if blocked < self.stall_seconds:
            return None
        ticks.stalled_since = ticks.last
        message = (
            "kflow's event loop (thread %s) has not run for %.1f s: something on it "
            "blocks, and every step of every run in this worker waits. Where its thread "
            "is now:\n%s\nA sync step function can be marked @kflow.in_thread; an async "
            "one must await rather than block (asyncio.sleep, not time.sleep; an async "
            "client; or asyncio.to_thread for the blocking part). Past %g s without a "
            "heartbeat, other workers may take over this worker's runs."
        )
        args = (ticks.thread_name, blocked, _stack_of(ticks.thread_id), LEASE_SECONDS)
        extra = {"action": "event_loop_blocked", "blocked_seconds": round(blocked, 3)}
        return message, args, extra

    @staticmethod
    def _returned(ticks: Ticks) -> _Report | None:
        """The notice that a reported loop runs again, if it has ticked since."""
        if ticks.stalled_since is None or ticks.last <= ticks.stalled_since:
            return None
        blocked = ticks.last - ticks.stalled_since
        ticks.stalled_since = None
        message = "kflow's event loop (thread %s) runs again after being blocked for about %.1f s"
        return message, (ticks.thread_name, blocked), {"action": "event_loop_resumed"}


_Report = tuple[str, tuple[object, ...], dict[str, object]]
"""A warning to log: its format, arguments and extra fields."""


def _emit(reports: list[_Report | None]) -> None:
    for report in reports:
        if report is not None:
            message, args, extra = report
            _log.warning(message, *args, extra=extra)


def _stack_of(thread_id: int) -> str:
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "  (the thread has ended)"
    return "".join(traceback.format_stack(frame)[-STACK_FRAMES:]).rstrip()


stall_watch = StallWatch()
os.register_at_fork(after_in_child=stall_watch.reset)
