"""Step functions for the runtime integration tests (imported as `steps`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from typing import Any

from kflow import ErrorKind, StepFailure, current_step

_lock = threading.Lock()
active = 0
peak = 0
attempts: dict[str, int] = {}


def reset() -> None:
    """Forget what earlier tests recorded."""
    global active, peak
    active = peak = 0
    attempts.clear()
    escalations.clear()


def _enter() -> None:
    global active, peak
    with _lock:
        active += 1
        peak = max(peak, active)


def _leave() -> None:
    global active
    with _lock:
        active -= 1


async def probe(seconds: float, item: Any = None) -> dict[str, Any]:
    """Sleep on the loop while counting how many probes run at once."""
    _enter()
    try:
        await asyncio.sleep(seconds)
    finally:
        _leave()
    return {"item": item}


def blocking_probe(seconds: float) -> dict[str, Any]:
    """Sleep in a thread while counting how many probes run at once."""
    _enter()
    try:
        time.sleep(seconds)
    finally:
        _leave()
    return {"thread": threading.current_thread().name}


def flaky(name: str, failures: int, kind: str = "transient") -> dict[str, Any]:
    """Fail `failures` times, then succeed; reports the attempt it succeeded on."""
    count = attempts[name] = attempts.get(name, 0) + 1
    if count <= failures:
        raise StepFailure(f"{name} failed on call {count}", ErrorKind(kind))
    return {"attempt": current_step().attempt, "calls": count}


def boom() -> None:
    """Raise a plain exception."""
    raise ValueError("the answer was not 42")


def unserializable() -> dict[str, Any]:
    """Return something the journal cannot hold."""
    return {"handle": object()}


def context() -> dict[str, Any]:
    """Report the step's context."""
    step = current_step()
    return {"key": step.idempotency_key, "attempt": step.attempt, "step": step.step_id}


async def cancels_itself() -> None:
    """Raise CancelledError from inside the action (not a cancellation of the task)."""
    raise asyncio.CancelledError


def cyclic() -> dict[str, Any]:
    """Return a dict that contains itself."""
    value: dict[str, Any] = {}
    value["self"] = value
    return value


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def unprintable() -> None:
    """Raise an exception that cannot be turned into text."""
    raise _Unprintable


async def item_or_fail(item: int, bad: list[int], seconds: float = 0.0) -> dict[str, Any]:
    """Fail permanently for the items in `bad`; counts the calls per item in `attempts`."""
    key = f"item{item}"
    attempts[key] = attempts.get(key, 0) + 1
    _enter()
    try:
        await asyncio.sleep(seconds if item not in bad else 0)
    finally:
        _leave()
    if item in bad:
        raise StepFailure(f"item {item} is bad", ErrorKind.PERMANENT)
    return {"item": item}


def broken_fallback(**_: Any) -> None:
    """A fallback that fails too."""
    raise ValueError("the fallback is broken too")


escalations: list[dict[str, Any]] = []


class AwayBoss:
    """An escalation agent that records what it was given and fails."""

    def escalate(self, step: str, action: str, inputs: Any, error: Any) -> None:
        escalations.append({"step": step, "error": error})
        raise StepFailure("the boss is away", ErrorKind.DEPENDENCY)


async def sees_committed(db: str, after: str, value: Any = None) -> dict[str, Any]:
    """Look in the journal, from another connection, for the committed result of `after`.

    Async, so it looks at once, before anything else on the loop can commit."""
    run_id = current_step().run_id
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as journal:
        rows = journal.execute(
            "SELECT body FROM events WHERE run_id = ? AND kind = 'step_succeeded'", (run_id,)
        ).fetchall()
    committed = any(json.loads(body)["step"] == after for (body,) in rows)
    return {"committed": committed, "value": value}


def where(item: int) -> dict[str, Any]:
    """Where this call runs: without a task (inline on the loop) or not, and for which step."""
    return {"item": item, "inline": asyncio.current_task() is None, "index": current_step().index}


def returns_coroutine(item: int) -> Any:
    """A sync function whose result is a coroutine: kflow awaits it, in the step's context."""

    async def later() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"item": item, "index": current_step().index}

    return later()


def fails_once_inline(name: str) -> dict[str, Any]:
    """Fail the first attempt with a message, succeed after."""
    attempts[name] = attempts.get(name, 0) + 1
    if attempts[name] == 1:
        raise ValueError(f"{name} is not ready yet")
    return {"attempts": attempts[name], "inline": asyncio.current_task() is None}


def nests_a_loop() -> dict[str, Any]:
    """Start an event loop of its own (works in a thread, not on kflow's loop)."""

    async def answer() -> int:
        return 42

    return {"answer": asyncio.run(answer()), "thread": threading.current_thread().name}


slow_from_now = False
placed: list[bool] = []


def quick_until_told(item: int) -> dict[str, Any]:
    """Quick, until `slow_from_now` is set: then each call blocks for 20 ms."""
    placed.append(threading.current_thread() is threading.main_thread())
    if slow_from_now:
        time.sleep(0.02)
    return {"item": item}


def cancelled_inside() -> None:
    """Raise asyncio's CancelledError, as `result()` of a cancelled future does."""
    raise asyncio.CancelledError("the upstream request was cancelled")


def where_it_ran(item: int, nap: float = 0.0) -> dict[str, Any]:
    """Where this call ran: in a thread, in a task of the loop, or inline on the loop."""
    if nap:
        time.sleep(nap)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return {"item": item, "ran": "thread"}
    return {"item": item, "ran": "task" if asyncio.current_task() else "inline"}


held_calls = 0
let_go = threading.Event()


def held(item: int) -> dict[str, Any]:
    """Count the call, then wait until `let_go` is set (at most 10 s)."""
    global held_calls
    with _lock:
        held_calls += 1
    let_go.wait(10)
    return {"item": item}


async def blocks_the_loop(seconds: float) -> dict[str, Any]:
    """An async step that blocks instead of awaiting (the mistake the stall watch names)."""
    time.sleep(seconds)
    return {"slept": seconds}
