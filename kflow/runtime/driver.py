"""Drives one run: carries out the engine's commands and feeds results back as events."""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import msgspec

from kflow.actions import ActionResolver, InlineAction, StepContext, classify
from kflow.engine import commands as cmd
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.errors import ErrorKind, StepFailure
from kflow.runtime.journal import GroupCommit
from kflow.store.protocol import Entry

_TaskKey = tuple[str, int | None]
_Attempt = asyncio.Future[None] | asyncio.Handle
"""An attempt under way, to cancel when the run ends (a task is a future too)."""
_AT_ONCE = (False, False)
_APPEND_MODES: dict[type[ev.Event], tuple[bool, bool]] = {
    ev.StepStarted: (True, True),
    ev.StepSucceeded: (True, False),
}
"""How an event is appended, as (lazy, starts an attempt); other events: `_AT_ONCE`.
Nothing waits for a start to be durable (see `GroupCommit.append`); a result is waited
for only once a task it readied could take a free slot (`RunDriver._hurry` then)."""
Outcome = Callable[[], None]
"""Records what an attempt came to (its success or its failure)."""
_QUIET = (ev.StepStarted, ev.StepSucceeded)
"""Events after which `decide` has news only if a task became startable."""


class RunDriver:
    """Runs the commands of one `RunMachine` until the run ends or the driver is stopped."""

    def __init__(
        self,
        machine: RunMachine,
        journal: GroupCommit,
        resolver: ActionResolver,
    ) -> None:
        self.machine = machine
        self.run_id = machine.state.run_id
        self._journal = journal
        self._resolver = resolver
        self._running: dict[_TaskKey, _Attempt] = {}
        """Attempts under way: a task each, a timer for a `TimerAction` (a sleep), a queued
        callback for an action called inline, or the verdict such a call waits for."""
        self._timer: asyncio.TimerHandle | None = None
        self._durable = machine.state.events - 1
        """Sequence number of this run's last committed event."""
        self._appended = self._durable
        """Sequence number of this run's last event handed to the journal."""
        self._stopped = False
        self._undecided = False
        """An event other than a start or a success was recorded since the last pump."""
        self._on_commit = self._committed  # one bound method for every entry, not one each
        self._loop = asyncio.get_running_loop()
        self.done = self._loop.create_future()
        """Resolves with the final status once the run has ended (or the driver stopped)."""

    # -- the loop of decide -> act ----------------------------------------

    def pump(self) -> None:
        """Ask the engine what to do now and do it.

        The engine is told which events are committed: a task that a result made
        ready starts only once that result is durable, so no step ever acts on a
        result a crash could still take back. Other tasks use freed slots at once.
        """
        if self._stopped:
            return
        self._undecided = False
        for command in self.machine.decide(time.time(), self._durable):
            match command:
                case cmd.Start():
                    self._start(command)
                case cmd.Record(event=event):
                    self.record(event)
                case cmd.WakeAt(at=at):
                    self._wake_at(at)
        self._hurry()

    def _hurry(self) -> None:
        """Commit this tick if a free slot waits for a task whose readying result is not
        durable yet; otherwise that result may wait to share a later commit (fewer
        commits while every slot is busy, which is when the loop has least time)."""
        machine = self.machine
        if machine.has_free_slot() and machine.awaits_commit(self._durable):
            self._journal.hurry()

    def record(self, event: ev.AnyEvent) -> None:
        """Fold an event into the state and append it to the journal."""
        kind = type(event)
        lazy, starts = _APPEND_MODES.get(kind, _AT_ONCE)
        if kind not in _QUIET:
            self._undecided = True
        self._append(event, lazy, starts)
        if kind in ev.TERMINAL_EVENTS:
            self._abandon_running()

    def _append(self, event: ev.AnyEvent, lazy: bool, starts: bool) -> None:
        """`record` once the event's kind is known (a start or a success: twice a step)."""
        machine = self.machine
        seq = self._appended = machine.state.events
        entry = Entry(self.run_id, seq, event, ev.encode(event))
        machine.apply(event)
        self._journal.append(entry, self._on_commit, lazy=lazy, starts_attempt=starts)

    def _committed(self, entry: Entry) -> None:
        """The journal committed this run's events up to `entry` (its last in the commit)."""
        seq, event = entry.seq, entry.event
        self._durable = seq
        if self.machine.state.status.finished:
            # Done once the run's end itself is durable (entries commit in order, so all
            # before it are too), not when an earlier commit lands after the end was decided.
            if type(event) in ev.TERMINAL_EVENTS and not self.done.done():
                self.done.set_result(self.machine.state.status)
            return
        # Decide again at the run's last entry in this commit (or one a task waited for) if
        # a task can start now, or if an event other than a start or a success came since
        # the last decision: a failure, a pause or resume, a recovery may call for a retry
        # timer, the run's end, or starts. Otherwise `decide` could only say "wait".
        machine = self.machine
        if (seq == self._appended or machine.promotable(seq)) and (
            self._undecided or machine.has_free_slot_and_ready_task(seq)
        ):
            self.pump()

    def _wake_at(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(at - time.time(), 0.0)
        self._timer = self._loop.call_later(delay, self.pump)

    # -- running actions ----------------------------------------------------

    def _start(self, start: cmd.Start) -> None:
        loop = self._loop
        began = loop.time()  # a timer counts from here, not from after the bookkeeping
        started = ev.StepStarted(
            at=time.time(),
            step=start.step,
            index=start.index,
            attempt=start.attempt,
            variant=start.variant,
        )
        self._append(started, True, True)
        timer = self._as_timer(start)
        attempt: _Attempt
        if timer is not None:
            delay, outcome = timer
            attempt = loop.call_at(began + delay, self._timer_fired, start, outcome)
        elif (inline := self._as_inline(start)) is not None:
            attempt = loop.call_soon(self._run_inline, start, inline)
        else:
            attempt = loop.create_task(self._run(start))
        self._running[(start.step, start.index)] = attempt

    def _as_timer(self, start: cmd.Start) -> tuple[float, Outcome] | None:
        """A step whose action only waits, as (delay, outcome); None for every other step."""
        try:
            what = start.action
            action = self._resolver.timer(what.kind, what.target, what.method)
            if action is None:
                return None
            seconds = action.seconds(start.inputs)
            if not (math.isfinite(seconds) and seconds >= 0):
                return None  # the loop cannot keep such a timer: the task fails or waits
            result = action.result(seconds)
        except Exception:
            return None  # as a task, the attempt reports the problem like any other action
        if start.timeout is not None and start.timeout < seconds:
            timed_out = _timeout_error(start, TimeoutError())
            return start.timeout, partial(self._failed, start, timed_out, None)
        return seconds, partial(self._succeeded, start, result, True)  # stored as it is

    def _as_inline(self, start: cmd.Start) -> InlineAction | None:
        """The action if it may return at once (a built-in, a sync function), to call
        from a loop callback without a task (`_run_inline`); else None.

        A step with a timeout keeps its task: a call that went back to a thread can then
        be cut off.
        """
        if start.timeout is not None:
            return None
        what = start.action
        try:
            action = self._resolver.inline(what.kind, what.target, what.method)
        except Exception:
            return None  # as a task, the attempt reports the problem like any other action
        return action if action is not None and action.sync else None

    def _timer_fired(self, start: cmd.Start, outcome: Outcome) -> None:
        self._running.pop((start.step, start.index), None)
        self._conclude(start, outcome)

    def _run_inline(self, start: cmd.Start, action: InlineAction) -> None:
        """Run an attempt of an inline action right here, as `_run` would in a task; or,
        while its function awaits a verdict, once that is in."""
        key = (start.step, start.index)
        self._running.pop(key, None)
        if not action.inline and (verdict := action.awaiting_verdict()) is not None:
            # 1,000 runs starting a new function at once: the calls past the first few
            # wait for their verdict with a callback, not a task each.
            verdict.add_done_callback(partial(self._after_verdict, start, action))
            self._running[key] = verdict
            return
        self._call_inline(start, action)

    def _after_verdict(
        self, start: cmd.Start, action: InlineAction, verdict: asyncio.Future[None]
    ) -> None:
        key = (start.step, start.index)
        # Not waiting any more: the run ended or the driver stopped meanwhile (perhaps in
        # the very turn the verdict came, too late to cancel it).
        if self._running.get(key) is not verdict:
            return
        del self._running[key]
        self._call_inline(start, action)  # on the loop if proved quick, else in a thread

    def _call_inline(self, start: cmd.Start, action: InlineAction) -> None:
        key = (start.step, start.index)
        context = StepContext(self.run_id, start.step, start.index, start.attempt)
        try:
            result = action.call_inline(start.inputs, context)
        except (Exception, asyncio.CancelledError) as exc:  # no task here to be cancelled
            outcome = self._failure(start, exc)
        else:
            if inspect.iscoroutine(result):  # more to wait for: a task awaits it
                task = self._loop.create_task(self._run(start, result))
                # A task cancelled before it starts never awaits the coroutine: close it.
                task.add_done_callback(lambda _: result.close())
                self._running[key] = task
                return
            outcome = partial(self._succeeded, start, result)
        self._conclude(start, outcome)

    async def _run(self, start: cmd.Start, pending: Awaitable[Any] | None = None) -> None:
        try:
            outcome = await self._attempt(start, pending)
        finally:
            self._running.pop((start.step, start.index), None)
        self._conclude(start, outcome)

    def _conclude(self, start: cmd.Start, outcome: Outcome) -> None:
        """Record an attempt's outcome, then let a ready task take the freed slot."""
        try:
            outcome()
        except Exception as exc:  # a bug in recording must not leave the attempt running
            error = ev.ErrorInfo(
                kind=ErrorKind.UNKNOWN,
                message=f"kflow could not record the step's outcome: {type(exc).__name__}: {exc}",
                type="InternalError",
            )
            self._failed(start, error, None)
        machine, durable = self.machine, self._durable
        if machine.has_free_slot_and_ready_task(durable) or (
            machine.state.running == 0 and not machine.awaits_commit(durable)
        ):
            self.pump()  # a task that is ready and durable may take the slot, or the run ends
        else:
            self._hurry()  # a task waits for this result's commit: it starts from `_committed`

    async def _attempt(self, start: cmd.Start, pending: Awaitable[Any] | None = None) -> Outcome:
        """Run the action once (or await what its inline call left `pending`); return how
        to record what happened."""
        context = StepContext(
            self.run_id, start.step, start.index, start.attempt, timeout=start.timeout
        )
        try:
            action = self._resolver.resolve(
                start.action.kind, start.action.target, start.action.method
            )
            if pending is not None:
                result = await pending
            elif start.timeout is None:
                result = await action(start.inputs, context)
            else:
                result = await asyncio.wait_for(action(start.inputs, context), start.timeout)
        except asyncio.CancelledError as exc:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we were cancelled (the run ended or the worker stops)
            return self._failure(start, exc)
        except Exception as exc:
            return self._failure(start, exc)
        return partial(self._succeeded, start, result)

    def _failure(self, start: cmd.Start, exc: BaseException) -> Outcome:
        """How to record an attempt whose action raised `exc` (not our own cancellation)."""
        if isinstance(exc, asyncio.CancelledError):
            error = ev.ErrorInfo(
                kind=ErrorKind.UNKNOWN, message="the action was cancelled", type="CancelledError"
            )
            return partial(self._failed, start, error, None)
        if isinstance(exc, TimeoutError):
            return partial(self._failed, start, _timeout_error(start, exc), None)
        assert isinstance(exc, Exception)  # what else escapes an action stops the process
        # partial, not a lambda: `exc` is unbound when the except clause ends.
        return partial(self._classified_failure, start, exc)

    def _classified_failure(self, start: cmd.Start, exc: Exception) -> None:
        try:
            # A StepFailure was raised on purpose: its message says it all, and its
            # details (a command's stderr) say more than kflow's frames would.
            found = classify(exc, with_traceback=not isinstance(exc, StepFailure))
            error = ev.ErrorInfo(
                kind=found.kind,
                message=found.message,
                type=found.type_name,
                details=found.details or found.traceback,
            )
            retry_after = found.retry_after
        except Exception:  # e.g. an exception whose __str__ raises
            error = ev.ErrorInfo(
                kind=ErrorKind.UNKNOWN,
                message=f"{type(exc).__name__} (unprintable)",
                type=type(exc).__name__,
            )
            retry_after = None
        self._failed(start, error, retry_after)

    def _succeeded(self, start: cmd.Start, result: Any, stored_as_is: bool = False) -> None:
        """Record a success; `stored_as_is`: the result is JSON data already (a timer's)."""
        if self.machine.state.status.finished:
            return
        event = self.machine.succeeded(start, result, time.time())
        if type(event) is not ev.StepSucceeded:
            self.record(event)
            return
        if not stored_as_is:
            try:
                event = _normalised(event)
            except Exception as exc:  # TypeError, OverflowError, RecursionError (a cycle), ...
                error = _unserializable(start, exc)
                self.record(self.machine.failed(start, error, None, time.time()))
                return
        if self.machine.vacate(start.step, start.index):
            self.pump()  # the next step first: it waits for none of this result's bookkeeping
            if self.machine.state.status.finished:
                return  # that decision ended the run (its timeout): nothing follows its end
        self._append(event, True, False)

    def _failed(self, start: cmd.Start, error: ev.ErrorInfo, retry_after: float | None) -> None:
        if self.machine.state.status.finished:
            return
        self.record(self.machine.failed(start, error, retry_after, time.time()))

    def _abandon_running(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for attempt in list(self._running.values()):
            attempt.cancel()
        self._running.clear()  # a cancelled task would drop its own entry; a timer never does

    def stop(self) -> None:
        """Stop driving: cancel running attempts (they run again on recovery)."""
        self._stopped = True
        self._abandon_running()
        if not self.done.done():
            self.done.set_result(self.machine.state.status)

    @property
    def running_tasks(self) -> int:
        """Attempts whose actions are running in this process now."""
        return len(self._running)


def _normalised(event: ev.StepSucceeded) -> ev.StepSucceeded:
    """Round-trip the output through JSON so the live run sees what a replay would see."""
    output = msgspec.json.decode(msgspec.json.encode(event.output))
    return msgspec.structs.replace(event, output=output)


def _unserializable(start: cmd.Start, exc: Exception) -> ev.ErrorInfo:
    message = (
        f"step '{start.step}' returned a value that cannot be stored in the journal ({exc}); "
        "return JSON-compatible data: dict, list, str, int, float, bool or None"
    )
    return ev.ErrorInfo(kind=ErrorKind.VALIDATION, message=message, type="OutputNotSerializable")


def _timeout_error(start: cmd.Start, exc: TimeoutError) -> ev.ErrorInfo:
    detail = str(exc)
    if start.timeout is not None and not detail:
        detail = f"step '{start.step}' did not finish within its timeout of {start.timeout:g}s"
    return ev.ErrorInfo(kind=ErrorKind.TIMEOUT, message=detail or "timed out", type="TimeoutError")
