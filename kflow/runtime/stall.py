"""Noticing that something blocks the event loop a worker runs on, and naming it.

kflow runs async steps and sync functions proved quick on its event loop. One that blocks
there (`time.sleep` in an `async def`, a blocking client, a function quick until it is
not) holds up every step of every run in the worker; past `LEASE_SECONDS` without a
heartbeat, other workers may take its runs over. After the fact, a sync function is sent
back to threads (`kflow.actions.placement`); this says so while the loop is stuck, with
where its thread is, so that a hang has a culprit.

While workers run on a loop, a timer on it ticks every `TICK_SECONDS`. A thread of this
module reads the ticks: a loop that has not ticked for `STALL_SECONDS` gets one warning
with its thread's stack, and a second when it runs again. Nothing is added to the path of
a step. The thread needs the GIL to look: C code that holds it (a long regular
expression) is reported only once it lets go, with the stack of that moment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from kflow.runtime.leases import LEASE_SECONDS

_log = logging.getLogger(__name__)

STALL_SECONDS = 1.0
"""How long a loop may go without a tick before it is reported as blocked."""
TICK_SECONDS = 0.2
"""How often a watched loop ticks."""
CHECK_SECONDS = 0.25
"""How often the watching thread looks at the ticks."""
OUTER_FRAMES, INNER_FRAMES = 4, 8
"""Frames of a blocked loop's stack shown: the outermost below the loop's own (the
step's call) and the innermost (where it waits)."""


def _folders(*names: str) -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[name]).resolve() for name in names)


_KFLOW = Path(__file__).resolve().parent.parent
_STDLIB = _folders("stdlib", "platstdlib")
_SITE = _folders("purelib", "platlib")


@dataclass(eq=False)
class Ticks:
    """The ticks of one event loop, shared by the workers on it."""

    loop: asyncio.AbstractEventLoop
    thread_id: int
    """The thread that runs the loop (whose stack a warning shows)."""
    thread_name: str
    last: float
    """When the loop last ticked (`time.monotonic`)."""
    watchers: int = 1
    stalled_since: float | None = None
    """The last tick before a stall that was reported (None: none is under way)."""
    every: float = TICK_SECONDS
    timer: asyncio.TimerHandle | None = None

    def tick(self) -> None:
        """Note that the loop runs, and tick again in `every` seconds (on the loop)."""
        self.last = time.monotonic()
        self.timer = self.loop.call_later(self.every, self.tick)


_Report = tuple[str, tuple[object, ...], dict[str, object]]
"""A warning to log: its format, arguments and extra fields."""


class StallWatch:
    """One thread per process that warns about loops that stopped ticking."""

    def __init__(
        self,
        stall_seconds: float = STALL_SECONDS,
        check_seconds: float = CHECK_SECONDS,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self.stall_seconds = stall_seconds
        self.check_seconds = check_seconds
        self.tick_seconds = tick_seconds
        self._lock = threading.Lock()
        self._loops: dict[int, Ticks] = {}
        """By the id of the thread running the loop."""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def watch(self) -> Ticks | None:
        """Watch the running loop (call from it); `unwatch` what this returns when done.

        None if the watching thread cannot start (the process is out of threads): the
        watch is a diagnostic, so the worker goes on without it.
        """
        loop = asyncio.get_running_loop()
        thread = threading.current_thread()
        key = thread.ident or 0
        with self._lock:
            ticks = self._loops.get(key)
            if ticks is not None and ticks.loop is loop:
                ticks.watchers += 1
                return ticks
            ticks = Ticks(loop, key, thread.name, time.monotonic(), every=self.tick_seconds)
            # A thread told to stop (its last loop was let go) may not have ended yet.
            if self._thread is None or self._stop.is_set():
                stop = threading.Event()
                watcher = threading.Thread(
                    target=self._run, args=(stop,), name="kflow-stall-watch", daemon=True
                )
                try:
                    watcher.start()
                except RuntimeError as exc:
                    _log.warning("kflow cannot watch its event loop for stalls: %s", exc)
                    return None
                self._stop, self._thread = stop, watcher
            self._loops[key] = ticks
        ticks.tick()
        return ticks

    def unwatch(self, ticks: Ticks | None) -> None:
        """Stop watching for one worker (call from the loop); the loop is let go once its
        last worker is."""
        if ticks is None:
            return
        report = None
        with self._lock:
            if threading.get_ident() == ticks.thread_id:  # the loop runs: it is here
                ticks.last = time.monotonic()
                report = self._returned(ticks, ticks.last)
            ticks.watchers -= 1
            if ticks.watchers <= 0:
                if ticks.timer is not None:
                    ticks.timer.cancel()
                if self._loops.get(ticks.thread_id) is ticks:
                    del self._loops[ticks.thread_id]
                if not self._loops:
                    self._stop.set()  # the thread ends within a check
        _emit(report)

    def reset(self) -> None:
        """Forget every loop and the thread (a forked child has neither)."""
        self._lock = threading.Lock()
        self._loops = {}
        self._thread = None
        self._stop = threading.Event()

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(self.check_seconds):
                try:
                    self._check_all()
                except Exception:  # a diagnostic must not end the watch
                    _log.exception("kflow could not check its event loops for stalls")
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _check_all(self) -> None:
        # Under the lock, so that `unwatch` and a check never both report one return;
        # the stacks are formatted and logged after it (that reads source files).
        returns: list[_Report] = []
        stalls: list[tuple[Ticks, float, FrameType | None]] = []
        with self._lock:
            now = time.monotonic()
            frames = None
            for ticks in self._loops.values():
                last = ticks.last  # read once: the loop may tick meanwhile
                if ticks.stalled_since is not None:
                    if (report := self._returned(ticks, last)) is not None:
                        returns.append(report)
                elif now - last >= self.stall_seconds:
                    ticks.stalled_since = last
                    frames = frames or sys._current_frames()
                    stalls.append((ticks, now - last, frames.get(ticks.thread_id)))
        for report in returns:
            _emit(report)
        for stall in stalls:
            _emit(_blocked(*stall))

    @staticmethod
    def _returned(ticks: Ticks, last: float) -> _Report | None:
        """The notice that a reported loop runs again, if it has ticked since."""
        if ticks.stalled_since is None or last <= ticks.stalled_since:
            return None
        blocked = last - ticks.stalled_since
        ticks.stalled_since = None
        message = "the event loop kflow runs on (thread %s) runs again after %.1f s blocked"
        extra = {"action": "event_loop_resumed", "blocked_seconds": round(blocked, 3)}
        return message, (ticks.thread_name, blocked), extra


def _blocked(ticks: Ticks, blocked: float, frame: FrameType | None) -> _Report:
    """The warning for a loop blocked for `blocked` seconds, its thread now at `frame`."""
    stack = traceback.extract_stack(frame) if frame is not None else traceback.StackSummary()
    steps = _below_the_loop(stack)
    shown = _abridged(steps)
    where = "".join(shown.format()).rstrip() if shown else "  (its stack is not available)"
    extra: dict[str, object] = {
        "action": "event_loop_blocked",
        "blocked_seconds": round(blocked, 3),
        "stack": where,
    }
    args = (ticks.thread_name, blocked, where)
    if any(not _is_own(f.filename) for f in steps):
        message = (
            "the event loop kflow runs on (thread %s) has not run for %.1f s: a step blocks "
            "it, and every step of every run in this worker waits. Where its thread is "
            "now:\n%s\nA sync step function can be marked @kflow.in_thread; an async one "
            "must await rather than block (asyncio.sleep, not time.sleep; an async client; "
            "or asyncio.to_thread for the blocking part). Past %g s without a heartbeat, "
            "other workers may take over this worker's runs."
        )
        return message, (*args, LEASE_SECONDS), extra
    message = (
        "the event loop kflow runs on (thread %s) has not run for %.1f s, busy with kflow's "
        "own work, and every step of every run in this worker waits. Where its thread is "
        "now:\n%s\nThis happens when a worker takes on many thousands of runs or timers "
        "at once (spread them over workers), or waits for a database another process "
        "holds locked."
    )
    return message, args, extra


def _below_the_loop(stack: traceback.StackSummary) -> list[traceback.FrameSummary]:
    """The frames of the callback the loop is in (those below asyncio's `Handle._run`)."""
    frames = list(stack)
    for i in range(len(frames) - 1, -1, -1):
        frame = frames[i]
        if frame.name == "_run" and Path(frame.filename).parts[-2:] == ("asyncio", "events.py"):
            return frames[i + 1 :]
    return frames


def _abridged(frames: list[traceback.FrameSummary]) -> traceback.StackSummary:
    """The outermost and innermost frames, with a marker for those left out between."""
    if len(frames) <= OUTER_FRAMES + INNER_FRAMES:
        return traceback.StackSummary.from_list(frames)
    left_out = len(frames) - OUTER_FRAMES - INNER_FRAMES
    marker = traceback.FrameSummary(f"({left_out} frames left out)", 0, "...", line="")
    kept = [*frames[:OUTER_FRAMES], marker, *frames[-INNER_FRAMES:]]
    return traceback.StackSummary.from_list(kept)


def _is_own(filename: str) -> bool:
    """Whether a frame is kflow's or the standard library's (not a step's code, nor a
    library a step calls)."""
    if filename.startswith("<"):  # <frozen importlib._bootstrap> and the like
        return True
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    if path.is_relative_to(_KFLOW):
        return True
    inside = path.is_relative_to
    return any(map(inside, _STDLIB)) and not any(map(inside, _SITE))


def _emit(report: _Report | None) -> None:
    if report is not None:
        message, args, extra = report
        _log.warning(message, *args, extra=extra)


stall_watch = StallWatch()
os.register_at_fork(after_in_child=stall_watch.reset)
