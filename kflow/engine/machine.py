"""The pure state machine of one run: fold events into state, decide what to do next.

`apply(event)` folds one journal event into the state; `decide(now)` returns
the commands that follow from the state (start these attempts, record that
outcome, wake me at t). Neither reads a clock nor does I/O, so replaying a
journal always rebuilds the same state and the same decisions.
"""

from __future__ import annotations

import collections
import heapq
from collections.abc import Iterable
from typing import Any

import msgspec

from kflow.engine import commands as cmd
from kflow.engine import events as ev
from kflow.engine.failure import decide_failure
from kflow.engine.messages import bad_result, items_failed
from kflow.engine.state import RunState, RunStatus, StepState, StepStates, StepStatus, TaskState
from kflow.errors import ErrorKind
from kflow.expr import MissingValue, render, resolve
from kflow.plan import Plan, PlanStep

_ReadyKey = int
"""A task's place in the ready queue: its step's rank (`Plan.rank`) in the high bits, then
its fan-out item + 1 (0 for a step that does not fan out). One int, not a tuple: the heaps
compare keys at every push and pop, several times per step."""
_ITEM_BITS = 32
_ITEM_MASK = (1 << _ITEM_BITS) - 1

# Step statuses as module globals: on Python 3.11, reading `StepStatus.READY` goes through
# the enum's descriptor (~0.2 us), and folding and deciding read a dozen per step.
_PENDING, _READY, _RUNNING, _RETRYING = (
    StepStatus.PENDING,
    StepStatus.READY,
    StepStatus.RUNNING,
    StepStatus.RETRYING,
)
_SUCCEEDED, _FAILED, _SKIPPED, _CANCELLED = (
    StepStatus.SUCCEEDED,
    StepStatus.FAILED,
    StepStatus.SKIPPED,
    StepStatus.CANCELLED,
)

_RUN_RUNNING = RunStatus.RUNNING

MAX_INTERRUPTIONS = 3
"""A step that was running this many times when its worker died is not started again."""


class RunMachine:
    """The engine for one run of a compiled plan."""

    def __init__(self, plan: Plan, created: ev.RunCreated) -> None:
        self.plan = plan
        steps = StepStates(plan.waiting, plan.plain_roots)
        self.state = RunState(
            run_id=created.run_id,
            workflow_id=created.workflow_id,
            inputs=created.inputs,
            max_concurrency=1 if plan.sequential else max(created.max_concurrency, 1),
            created_at=created.at,
            steps=steps,
            events=1,
        )
        self._ready: list[_ReadyKey] = []
        self._staged: collections.deque[tuple[int, _ReadyKey]] = collections.deque()
        """Tasks made ready, in the order of the events that did it, not yet in `_ready`."""
        self._uncommitted: list[tuple[_ReadyKey, int]] = []
        """The staged tasks again, best first (entries already promoted are dropped lazily)."""
        self._retries: list[tuple[float, str, int]] = []
        self._vacated: TaskState | None = None
        """The task whose attempt ended in a success not folded yet, and whose slot `vacate`
        freed (one at most: its success is folded next)."""
        self._vacant = 0
        """1 while a slot is vacated, else 0: what the slot counts add."""
        # The roots are made ready by the run's first event, which is in the journal
        # already: they need no staging. Plain roots get their states when first looked
        # up (`StepStates`); their keys, in rank order, are a heap as they stand.
        for step_id in plan.roots:
            if step_id not in plan.plain_roots:
                self._make_ready(steps[step_id])
        self._ready = [plan.rank[step_id] << _ITEM_BITS for step_id in plan.plain_roots]
        self._ready += (key for _, key in self._staged)
        heapq.heapify(self._ready)
        self._staged.clear()
        self._uncommitted.clear()

    # -- folding events -------------------------------------------------

    def apply(self, event: ev.AnyEvent) -> None:
        """Fold one journal event into the state."""
        state = self.state
        state.events += 1
        match event:
            case ev.StepStarted():
                self._on_started(event)
            case ev.StepSucceeded():
                self._on_succeeded(event)
            case ev.StepFailed():
                self._on_failed(event)
            case ev.RunPaused(reason=reason):
                if not state.status.finished:
                    state.status, state.reason = RunStatus.PAUSED, reason
            case ev.RunResumed():
                if state.status is RunStatus.PAUSED:
                    state.status = RunStatus.RUNNING
            case ev.RunRecovered():
                self._on_recovered()
            case ev.RunCancelled(reason=reason):
                self._finish(RunStatus.CANCELLED, event.at)
                state.reason = reason
            case ev.RunSucceeded(outputs=outputs):
                self._finish(RunStatus.SUCCEEDED, event.at)
                state.outputs = outputs
            case ev.RunFailed(error=error, step=step):
                self._finish(RunStatus.FAILED, event.at)
                state.error, state.failed_step = error, step
            case ev.RunCreated():
                raise ValueError("RunCreated starts a journal; build a new RunMachine from it")

    def apply_all(self, events: Iterable[ev.AnyEvent]) -> None:
        """Fold a sequence of events."""
        for event in events:
            self.apply(event)

    def task(self, step_id: str, index: int | None) -> TaskState:
        """The task of a step (index None) or of one fan-out item."""
        return self.state.steps[step_id].tasks[index or 0]

    def _on_started(self, event: ev.StepStarted) -> None:
        state = self.state
        step = state.steps[event.step]
        task = step.tasks[event.index or 0]
        if task.status is not _RUNNING:
            state.running += 1
            step.running += 1
        task.status, task.attempt, task.variant = _RUNNING, event.attempt, event.variant
        task.started_at = at = event.at
        if state.started_at is None:
            state.started_at = at
        if task.first_started_at is None:
            task.first_started_at = at
        if step.status is _READY or step.status is _RETRYING:
            step.status = _RUNNING

    def _on_succeeded(self, event: ev.StepSucceeded) -> None:
        step = self.state.steps[event.step]
        task = step.tasks[event.index or 0]
        self._stop_running(step, task)
        task.status, task.output, task.finished_at = _SUCCEEDED, event.output, event.at
        task.error = None
        step.done += 1
        if event.index is None:
            if not step.status.finished:
                self._step_succeeded(step, event.output)
        else:
            self._item_finished(step)

    def _on_failed(self, event: ev.StepFailed) -> None:
        step = self.state.steps[event.step]
        task = step.tasks[event.index or 0]
        self._stop_running(step, task)
        task.error = error = self._chained(task, event.error)
        if task.variant == "primary" and event.attempt > 0:
            task.failures += 1
        if event.decision in ("fallback", "escalate"):
            # Keep what failed so far: the error that ends the step must name it too.
            where = step.id if task.index is None else f"{step.id}[{task.index}]"
            task.given_up = (
                error.message if task.given_up else f"step '{where}' failed: {error.message}"
            )
        match event.decision:
            case "retry":
                due = event.retry_at if event.retry_at is not None else event.at
                task.status, task.retry_at = _RETRYING, due
                heapq.heappush(self._retries, (due, step.id, event.index or 0))
                if step.running == 0 and not step.status.finished:
                    step.status = _RETRYING
            case "fallback" | "escalate":
                task.status = _READY
                task.variant = "fallback" if event.decision == "fallback" else "escalation"
                self._push(task)
            case "continue" if event.index is not None:
                # One item of a fan-out step gave up: the others still run, and its slot
                # in the collected outputs is null (see `_item_finished`).
                task.status, task.finished_at = _FAILED, event.at
                step.failed_items += 1
                self._item_finished(step)
            case "fail" | "continue":
                task.status, task.finished_at = _FAILED, event.at
                if not step.status.finished:
                    self._step_failed(step, error, fail_run=event.decision == "fail")

    def _chained(self, task: TaskState, error: ev.ErrorInfo) -> ev.ErrorInfo:
        """The failure of a fallback or escalation, with the errors that led to it.

        `step 'x' failed: <primary's error>; its fallback (<action>) also failed: <error>`,
        and so on: whoever reads the run's error learns why the step failed in the first
        place, not only why the last resort failed. The kind and type stay the last
        failure's. Built from the journal's events alone, so a replay builds the same text.
        """
        if task.variant == "primary" or task.given_up is None:
            return error
        plan_step = self.plan.steps[task.step]
        action = plan_step.fallback if task.variant == "fallback" else plan_step.escalation
        link = "fallback" if task.variant == "fallback" else "escalation"
        message = f"{task.given_up}; its {link} ({action}) also failed: {error.message}"
        return msgspec.structs.replace(error, message=message)

    def _on_recovered(self) -> None:
        # Attempts that were running when the previous worker died are lost:
        # make them ready again; the next start gets a new attempt number.
        for step in self.state.steps.made():  # a step never looked up never ran
            if step.running == 0:
                continue
            for task in step.tasks:
                if task.status is _RUNNING:
                    task.status = _READY
                    task.interruptions += 1
                    self._push(task)
            self.state.running -= step.running
            step.running = 0
        self._vacated, self._vacant = None, 0

    def _stop_running(self, step: StepState, task: TaskState) -> None:
        if task is self._vacated:
            self._vacated, self._vacant = None, 0
        if task.status is _RUNNING:
            task.status = _READY
            self.state.running -= 1
            step.running -= 1

    def _finish(self, status: RunStatus, at: float) -> None:
        state = self.state
        state.status, state.finished_at = status, at
        if state.finished_steps == len(self.plan.order) and state.running == 0:
            return  # every step has ended (a run that succeeded): nothing to scan
        # Attempts still running are abandoned with the run: nothing will record their end.
        # What never started never will: skipped. A step that had begun is cancelled.
        for step in state.steps.values():
            begun = False
            for task in step.tasks:
                begun = begun or task.attempt > 0
                if task.status is _RUNNING:
                    task.status, task.finished_at = _CANCELLED, at
                elif not task.status.finished:
                    task.status = _SKIPPED
            step.running = 0
            if not step.status.finished:
                step.status = _CANCELLED if begun else _SKIPPED
                state.finished_steps += 1
        state.running = 0
        self._vacated, self._vacant = None, 0

    # -- graph propagation ----------------------------------------------

    def _step_succeeded(self, step: StepState, output: dict[str, Any]) -> None:
        step.status, step.output = _SUCCEEDED, output
        state = self.state
        state.step_outputs[step.id] = output
        state.finished_steps += 1
        steps = state.steps
        for dependent_id in self.plan.steps[step.id].dependents:
            dependent = steps[dependent_id]
            dependent.waiting -= 1
            if dependent.waiting == 0 and dependent.status is _PENDING:
                self._make_ready(dependent)

    def _item_finished(self, step: StepState) -> None:
        """A fan-out item succeeded or gave up under `continue`: end the step after the last.

        A fan-out step with `on_failure: continue` succeeds once every item has finished,
        even if some (or all) items failed: their slots in the outputs are null, so the
        dependents run on the items that did succeed. Failing the whole step instead
        would throw those results away and skip every dependent because of one bad item,
        which is what `continue` on a map is meant to avoid. The items' errors stay on
        the step (`error`, summarised) and on each item's task.
        """
        if step.status.finished or step.done + step.failed_items < len(step.tasks):
            return
        if step.failed_items:
            step.error = items_failed(step)
        self._step_succeeded(step, self._collect(step))

    def _step_failed(self, step: StepState, error: ev.ErrorInfo, *, fail_run: bool) -> None:
        step.status, step.error = _FAILED, error
        self.state.finished_steps += 1
        if fail_run:
            if not self.state.failing:
                self.state.failing, self.state.failed_step = True, step.id
                self.state.error = error
            return
        self._skip_dependents(step.id)

    def _skip_dependents(self, step_id: str) -> None:
        stack = list(self.plan.steps[step_id].dependents)
        while stack:
            dependent = self.state.steps[stack.pop()]
            if dependent.status is _PENDING:
                dependent.status = _SKIPPED
                self.state.finished_steps += 1
                stack.extend(self.plan.steps[dependent.id].dependents)

    def _make_ready(self, step: StepState) -> None:
        plan_step = self.plan.steps[step.id]
        step.status = _READY
        try:
            if plan_step.flat_inputs:
                step.inputs = dict(plan_step.inputs)
            else:
                step.inputs = render(plan_step.inputs, self.state.inputs, self.state.step_outputs)
            items = self._fan_out_items(plan_step, step.inputs)
        except (MissingValue, _FanOutError) as exc:
            step.input_error = str(exc) + self._silent_fan_outs(plan_step)
            items = None
        if items is None:
            task = TaskState(step.id, None)
            step.tasks = (task,)
            self._push(task)
            return
        step.tasks = tuple(TaskState(step.id, i) for i in range(items))
        if not items:
            self._step_succeeded(step, {name: [] for name in plan_step.outputs})
        for task in step.tasks:
            self._push(task)

    def _silent_fan_outs(self, plan_step: PlanStep) -> str:
        """A hint naming dependencies that fanned out, lost every item and declare no
        outputs: they have no output names to give (declared ones would be null lists)."""
        hints = []
        for dep_id in plan_step.depends_on:
            dep = self.state.steps[dep_id]
            silent = dep.tasks and dep.failed_items == len(dep.tasks)
            if silent and not self.plan.steps[dep_id].outputs:
                hints.append(
                    f"; all {len(dep.tasks)} items of step '{dep_id}' failed, so it has no "
                    "outputs: declare them (`outputs:`) to get a list of nulls instead"
                )
        return "".join(hints)

    def _fan_out_items(self, plan_step: PlanStep, inputs: dict[str, Any]) -> int | None:
        if plan_step.fan_out is None:
            return None
        name = plan_step.fan_out.over
        if name is None:
            lists = [k for k, v in inputs.items() if isinstance(v, list)]
            if len(lists) != 1:
                raise _FanOutError(
                    f"step '{plan_step.id}' has `parallel: true` but {len(lists)} list inputs "
                    f"({', '.join(lists) or 'none'}); name one with `parallel: {{over: <input>}}`"
                )
            name = lists[0]
        value = inputs.get(name)
        if not isinstance(value, list):
            raise _FanOutError(
                f"step '{plan_step.id}' fans out over input '{name}', "
                f"which is {type(value).__name__}, not a list"
            )
        return len(value)

    def _collect(self, step: StepState) -> dict[str, Any]:
        names: Iterable[str] = self.plan.steps[step.id].outputs
        if not names:
            names = dict.fromkeys(k for t in step.tasks for k in (t.output or {}))
        return {n: [(t.output or {}).get(n) for t in step.tasks] for n in names}

    def _push(self, task: TaskState) -> None:
        # The event being folded (or the latest one, for a retry falling due) made it ready.
        task.ready_seq = max(task.ready_seq, self.state.events - 1)
        if task.queued:
            return
        task.queued = True
        index = task.index
        key = self.plan.rank[task.step] << _ITEM_BITS | (0 if index is None else index + 1)
        self._staged.append((task.ready_seq, key))
        heapq.heappush(self._uncommitted, (key, task.ready_seq))

    def _promote(self, durable: int | None) -> None:
        """Move the staged tasks whose readying event is durable into the ready queue."""
        staged = self._staged
        while staged and (durable is None or staged[0][0] <= durable):
            heapq.heappush(self._ready, staged.popleft()[1])
        uncommitted = self._uncommitted
        if durable is None:
            uncommitted.clear()
            return
        while uncommitted and uncommitted[0][1] <= durable:
            heapq.heappop(uncommitted)

    def vacate(self, step_id: str, index: int | None) -> bool:
        """Free the slot of an attempt that succeeded, before its success is folded, if
        the best queued task can take it and nothing the success makes ready could
        outrank that task; return whether it did. Fold the success right after (`apply`).

        The driver then starts that task first: a result's bookkeeping (its event, the
        tasks it readies) no longer delays the next step in its slot. In the journal the
        next step's start comes before the success, as if the two had ended in the other
        order; replaying it may count one attempt more running than the run allows.
        """
        ready = self._ready
        if (
            not ready
            or self._vacated is not None
            or ready[0] >> _ITEM_BITS >= self.plan.dependent_rank[step_id]
        ):
            return False
        if index is not None and _has_item_limit(self.plan.steps[step_id]):
            # The item still counts against its step's own limit until its success is
            # folded: the step's next item could not take the slot, a lesser task would.
            return False
        self._vacated, self._vacant = self.state.steps[step_id].tasks[index or 0], 1
        return True

    def has_free_slot(self) -> bool:
        """Whether fewer attempts run than the run may run at once (vacated ones aside)."""
        return self.state.running - self._vacant < self.state.max_concurrency

    def has_free_slot_and_ready_task(self, durable: int) -> bool:
        """A cheap test of whether `decide(now, durable)` might start something now: a
        slot is free, and a task is queued or waits for an event now durable."""
        state = self.state  # `has_free_slot`, inlined: this runs once or twice a step
        return state.running - self._vacant < state.max_concurrency and (
            bool(self._ready) or self.promotable(durable)
        )

    def awaits_commit(self, durable: int) -> bool:
        """Whether a ready task waits for an event later than `durable` to be committed."""
        return bool(self._staged) and self._staged[-1][0] > durable

    def promotable(self, durable: int) -> bool:
        """Whether a task waits for an event that is durable now (so `decide` may start it)."""
        return bool(self._staged) and self._staged[0][0] <= durable

    # -- deciding -------------------------------------------------------

    def decide(self, now: float, durable: int | None = None) -> list[cmd.Command]:
        """The commands that follow from the state at time `now`.

        `durable` is the sequence number of the run's last committed event (None: all
        are). A task made ready by a later event does not start yet: it must not act on
        a result that a crash could still take back. Other ready tasks may start at
        once, in the slots that finished attempts have freed.
        """
        state = self.state
        if state.status.finished:
            return []
        deadline = None if self.plan.timeout is None else self._deadline()
        if deadline is not None and now >= deadline:
            message = (
                f"the run exceeded its timeout of {self.plan.timeout:g}s "
                "(counted from the start of its first step)"
            )
            error = ev.ErrorInfo(kind=ErrorKind.TIMEOUT, message=message, type="RunTimeout")
            return [cmd.Record(ev.RunFailed(at=now, error=error))]
        commands: list[cmd.Command] = []
        active = state.status is _RUN_RUNNING and not state.failing
        if active:
            if self._retries:
                self._release_due_retries(now)
            if self._staged or self._uncommitted:
                self._promote(durable)
            if self._ready:
                self._start_ready(now, durable, commands)
        if state.failing and state.running == 0:
            assert state.error is not None
            return [cmd.Record(ev.RunFailed(at=now, error=state.error, step=state.failed_step))]
        if state.finished_steps == len(self.plan.order) and state.running == 0:
            commands.append(cmd.Record(self._conclusion(now)))
            return commands
        if deadline is None and self.plan.timeout is not None and commands:
            deadline = now + self.plan.timeout  # the first steps start now
        # Retries fall due only while the run is active; a paused or failing run
        # waits for its deadline alone (waking for a retry it cannot start would spin).
        retry = self._next_retry() if active and self._retries else None
        wake = retry if deadline is None else deadline if retry is None else min(retry, deadline)
        if wake is not None:
            commands.append(cmd.WakeAt(wake))
        return commands

    def _deadline(self) -> float | None:
        """When the run times out: `engine.timeout` after its first step started."""
        if self.plan.timeout is None or self.state.started_at is None:
            return None
        return self.state.started_at + self.plan.timeout

    def _next_retry(self) -> float | None:
        while self._retries and not self._is_current(self._retries[0]):
            heapq.heappop(self._retries)  # replaced by a later failure, or already started
        return self._retries[0][0] if self._retries else None

    def _is_current(self, entry: tuple[float, str, int]) -> bool:
        at, step_id, index = entry
        task = self.state.steps[step_id].tasks[index]
        return task.status is _RETRYING and task.retry_at == at

    def _release_due_retries(self, now: float) -> None:
        while (due := self._next_retry()) is not None and due <= now:
            _, step_id, index = heapq.heappop(self._retries)
            task = self.state.steps[step_id].tasks[index]
            task.status = _READY
            self._push(task)

    def _start_ready(self, now: float, durable: int | None, commands: list[cmd.Command]) -> None:
        """Add a Start for each ready task that a free slot takes, best first (and a Record
        for each that fails before it can start)."""
        ready, steps, ranked = self._ready, self.state.steps, self.plan.ranked
        deferred: list[_ReadyKey] = []
        started: list[StepState] = []
        slots = self.state.max_concurrency - self.state.running + self._vacant
        while ready and slots > 0:
            key = heapq.heappop(ready)
            step = steps[ranked[key >> _ITEM_BITS]]
            item = key & _ITEM_MASK
            task = step.tasks[item - 1 if item else 0]
            task.queued = False
            if task.status is not _READY or step.status.finished:
                continue
            if durable is not None and task.ready_seq > durable:
                task.queued = True
                deferred.append(key)
                continue
            if self._uncommitted and self._uncommitted[0][0] < key:
                # A better task waits for its readying event to commit (a tick away):
                # keep the slot for it rather than give it to a lesser one now.
                heapq.heappush(ready, key)
                task.queued = True
                break
            if step.input_error is not None or task.interruptions >= MAX_INTERRUPTIONS:
                failure = (
                    self._input_failure(step, now)
                    if step.input_error is not None
                    else self._crash_loop_failure(step, task, now)
                )
                commands.append(cmd.Record(failure))
                if failure.decision == "fail":
                    break  # once folded it fails the run, which then starts nothing more
                continue
            plan_step = self.plan.steps[step.id]
            if plan_step.fan_out is not None:  # its items may have a limit of their own
                if not _fan_out_has_room(plan_step, step):
                    task.queued = True
                    deferred.append(key)
                    continue
                step.running += 1  # counted now so later picks in this batch see it
                started.append(step)
            commands.append(self._start(plan_step, step, task))
            slots -= 1
        for key in deferred:
            heapq.heappush(ready, key)
        for step in started:  # their StepStarted events count them when they are applied
            step.running -= 1

    def _start(self, plan_step: PlanStep, step: StepState, task: TaskState) -> cmd.Start:
        inputs = step.inputs or {}
        if task.index is not None:
            over = self._fan_over(plan_step, inputs)
            inputs = {**inputs, over: inputs[over][task.index]}
        action = plan_step.action
        if task.variant == "fallback" and plan_step.fallback is not None:
            action = plan_step.fallback
        elif task.variant == "escalation" and plan_step.escalation is not None:
            action = plan_step.escalation
            inputs = self._escalation_inputs(plan_step, task, inputs)
        return cmd.Start(
            step.id, task.index, task.attempt + 1, task.variant, action, inputs, plan_step.timeout
        )

    @staticmethod
    def _fan_over(plan_step: PlanStep, inputs: dict[str, Any]) -> str:
        assert plan_step.fan_out is not None
        if plan_step.fan_out.over is not None:
            return plan_step.fan_out.over
        return next(k for k, v in inputs.items() if isinstance(v, list))

    @staticmethod
    def _escalation_inputs(
        plan_step: PlanStep, task: TaskState, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        error = task.error
        return {
            "step": plan_step.id,
            "action": str(plan_step.action),
            "inputs": inputs,
            "error": {"kind": error.kind, "message": error.message} if error else None,
        }

    def _input_failure(self, step: StepState, now: float) -> ev.StepFailed:
        error = ev.ErrorInfo(
            kind=ErrorKind.VALIDATION, message=step.input_error or "", type="InputError"
        )
        return self._final_failure(step.id, None, 0, error, now)

    def _crash_loop_failure(self, step: StepState, task: TaskState, now: float) -> ev.StepFailed:
        where = step.id if task.index is None else f"{step.id}[{task.index}]"
        message = (
            f"step '{where}' was running each of the {task.interruptions} times its worker "
            "died; it is not started again, since it may be what kills the worker "
            "(look for out-of-memory kills or crashes in native code)"
        )
        error = ev.ErrorInfo(kind=ErrorKind.RESOURCE, message=message, type="CrashLoop")
        return self._final_failure(step.id, task.index, task.attempt, error, now)

    def _final_failure(
        self, step_id: str, index: int | None, attempt: int, error: ev.ErrorInfo, now: float
    ) -> ev.StepFailed:
        """A failure no retry, fallback or escalation follows."""
        on_failure = self.plan.steps[step_id].on_failure
        decision: ev.FailureDecision = "continue" if on_failure == "continue" else "fail"
        return ev.StepFailed(
            at=now, step=step_id, index=index, attempt=attempt, error=error, decision=decision
        )

    def _conclusion(self, now: float) -> ev.RunSucceeded | ev.RunFailed:
        outputs: dict[str, Any] = {}
        for binding in self.plan.outputs:
            try:
                outputs[binding.name] = resolve(
                    binding.ref, self.state.inputs, self.state.step_outputs
                )
            except MissingValue:
                outputs[binding.name] = None  # its step was skipped or failed with `continue`
        return ev.RunSucceeded(at=now, outputs=outputs)

    # -- turning action results into events -----------------------------

    def succeeded(
        self, start: cmd.Start, result: Any, now: float
    ) -> ev.StepSucceeded | ev.StepFailed:
        """The event for an attempt whose action returned `result`."""
        plan_step = self.plan.steps[start.step]
        if start.variant == "escalation" or not plan_step.outputs:
            output = result if isinstance(result, dict) else {"result": result}
            if plan_step.outputs and start.variant == "escalation":
                output = {n: output.get(k, output.get(n)) for n, k in plan_step.outputs.items()}
            return ev.StepSucceeded(
                at=now, step=start.step, index=start.index, attempt=start.attempt, output=output
            )
        if not isinstance(result, dict):
            return self.failed(start, bad_result(plan_step, result), None, now)
        missing = [key for key in plan_step.outputs.values() if key not in result]
        if missing:
            return self.failed(start, bad_result(plan_step, result, missing), None, now)
        output = {name: result[key] for name, key in plan_step.outputs.items()}
        return ev.StepSucceeded(
            at=now, step=start.step, index=start.index, attempt=start.attempt, output=output
        )

    def failed(
        self, start: cmd.Start, error: ev.ErrorInfo, retry_after: float | None, now: float
    ) -> ev.StepFailed:
        """The event for an attempt that failed with `error`, with the policy's decision."""
        plan_step = self.plan.steps[start.step]
        task = self.task(start.step, start.index)
        decision = decide_failure(
            plan_step, task, ErrorKind(error.kind), retry_after, now, self.state.run_id
        )
        return ev.StepFailed(
            at=now,
            step=start.step,
            index=start.index,
            attempt=start.attempt,
            error=error,
            decision=decision.decision,
            retry_at=decision.retry_at,
        )


def _has_item_limit(plan_step: PlanStep) -> bool:
    return plan_step.fan_out is not None and plan_step.fan_out.max_concurrency is not None


def _fan_out_has_room(plan_step: PlanStep, step: StepState) -> bool:
    assert plan_step.fan_out is not None
    limit = plan_step.fan_out.max_concurrency
    return limit is None or step.running < limit


class _FanOutError(Exception):
    """A fan-out step's inputs hold no list to fan out over."""
