"""What every action is: an async callable taking the step's inputs and its context."""

from __future__ import annotations

import abc
import asyncio
import contextvars
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StepContext:
    """Facts about the attempt being run, for actions that need them."""

    run_id: str
    step_id: str
    index: int | None
    """Item index when the step fans out over a list; None otherwise."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, and so on."""
    timeout: float | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable key of this attempt: use it to deduplicate side effects."""
        item = "" if self.index is None else f"[{self.index}]"
        return f"{self.run_id}:{self.step_id}{item}:{self.attempt}"


_current: contextvars.ContextVar[StepContext] = contextvars.ContextVar("kflow_step")


def current_step() -> StepContext:
    """The context of the step attempt this code runs in (sync or async actions alike)."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("current_step() called outside a kflow step") from None


def bind_context(context: StepContext) -> contextvars.Token[StepContext]:
    """Make `context` what `current_step()` returns in this task."""
    return _current.set(context)


class Action(Protocol):
    """Runs one attempt of a step and returns its result (a dict of named values, usually)."""

    async def __call__(self, inputs: Mapping[str, Any], context: StepContext) -> Any:
        """Run once with the rendered inputs."""
        ...


class InlineAction(abc.ABC):
    """An action that returns at once: the runtime calls it from a loop callback, without
    a task of its own (a task and its coroutines cost more than such an action's work)."""

    @property
    def inline(self) -> bool:
        """Whether the next call may be made inline (a sync function must prove itself)."""
        return True

    @property
    def sync(self) -> bool:
        """Whether every call may go through `call_inline` (inline or not, it decides)."""
        return True

    def awaiting_verdict(self) -> asyncio.Future[None] | None:
        """When a call may not be made inline yet, but soon may: a future to wait on
        before calling (`call_inline` then knows which way). None: call now."""
        return None

    @abc.abstractmethod
    def call_inline(self, inputs: Mapping[str, Any], context: StepContext) -> Any:
        """Run once, here and now: the result, or a coroutine to await for it."""

    async def __call__(self, inputs: Mapping[str, Any], context: StepContext) -> Any:
        """Run once (the path when not called inline)."""
        result = self.call_inline(inputs, context)
        return await result if asyncio.iscoroutine(result) else result


class TimerAction(abc.ABC):
    """An action that only waits, then returns: the runtime runs it as a plain loop timer.

    A task with its coroutines costs loop time at every step and two extra loop turns
    between the deadline and the start of the step that takes the freed slot; a timer
    has neither, and holds far less memory while thousands of runs wait. Called
    directly, it is an ordinary action.
    """

    @abc.abstractmethod
    def seconds(self, inputs: Mapping[str, Any]) -> float:
        """How long to wait; raise StepFailure if the inputs are wrong."""

    @abc.abstractmethod
    def result(self, seconds: float) -> Any:
        """What the step returns once it has waited `seconds`: JSON data, stored as it is."""

    async def __call__(self, inputs: Mapping[str, Any], context: StepContext) -> Any:
        """Wait, then return the result (the path when not run as a timer)."""
        seconds = self.seconds(inputs)
        await asyncio.sleep(seconds)
        return self.result(seconds)
