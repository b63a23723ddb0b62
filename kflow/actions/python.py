"""Python callables as actions, and importing them from `module:function` references."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import math
import pkgutil
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kflow.actions import threads
from kflow.actions.base import InlineAction, StepContext, bind_context
from kflow.actions.placement import (
    PROBATION_SECONDS,
    QUICK_SECONDS,
    Mark,
    Placement,
    close_unstarted_coroutines,
    is_pinned_to_threads,
    mark,
    spent_since,
    starts_own_loop,
    timed_call,
)
from kflow.errors import ActionNotFound, ErrorKind, StepFailure
from kflow.spec.suggest import closest, did_you_mean

_log = logging.getLogger(__name__)
_KEYWORDABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_FITTING_KEPT = 64
"""Most sets of input names that one function remembers as fitting."""
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
"""Result types that are never awaitable (asking `inspect.isawaitable` costs ~1 us)."""


@dataclass(frozen=True, slots=True)
class _Params:
    """The keyword arguments a function accepts, worked out once so each call checks cheaply."""

    accepted: frozenset[str]
    required: tuple[str, ...]
    positional_only: tuple[str, ...]
    """Required positional-only parameters: keyword inputs can never fill them."""
    any_keyword: bool

    @classmethod
    def of(cls, func: Callable[..., Any]) -> _Params | None:
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            return None  # some builtins have no signature; let the call itself complain
        params = signature.parameters.values()
        required = [p for p in params if p.default is p.empty]
        return cls(
            accepted=frozenset(p.name for p in params if p.kind in _KEYWORDABLE),
            required=tuple(p.name for p in required if p.kind in _KEYWORDABLE),
            positional_only=tuple(p.name for p in required if p.kind is p.POSITIONAL_ONLY),
            any_keyword=any(p.kind is p.VAR_KEYWORD for p in params),
        )

    def problems(self, given: Iterable[str]) -> list[str]:
        names = set(given)
        found = [f"missing required parameter '{n}'" for n in self.required if n not in names]
        found += [f"parameter '{n}' is positional-only" for n in self.positional_only]
        if not self.any_keyword:
            for name in sorted(names - self.accepted):
                hint = did_you_mean(name, self.accepted - names)
                found.append(f"unexpected input '{name}'{hint}")
        return found


class _Verdict:
    """Calls waiting for the calls under way in threads to prove a function quick or not.

    Kept per event loop: a function may serve loops in several threads, or loop after loop.
    """

    def __init__(self) -> None:
        self._waiting: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[asyncio.Future[None]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()  # loops in other threads may wait or settle at once

    async def wait(self) -> None:
        """Return once the verdict is in, or after `PROBATION_SECONDS` at the latest."""
        await self.waiter()

    def waiter(self) -> asyncio.Future[None]:
        """A future of the running loop that resolves as `wait` returns (cancel it to leave)."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        with self._lock:
            waiting = self._waiting.setdefault(loop, [])
            first = not waiting
            waiting.append(waiter)
        if first:
            loop.call_later(PROBATION_SECONDS, self._release, loop, waiting)
        return waiter

    def settle_unless(self, still_proving: bool) -> None:
        """Let every waiting call go on (to the loop if the function was promoted)."""
        if still_proving:
            return
        with self._lock:
            everyone = list(self._waiting.items())
        for loop, waiting in everyone:
            if loop is asyncio.get_running_loop():
                self._release(loop, waiting)
            else:
                with contextlib.suppress(RuntimeError):  # that loop has closed
                    loop.call_soon_threadsafe(self._release, loop, waiting)

    def _release(
        self, loop: asyncio.AbstractEventLoop, waiting: list[asyncio.Future[None]]
    ) -> None:
        with self._lock:
            if self._waiting.get(loop) is waiting:
                del self._waiting[loop]
        for waiter in waiting:
            if not waiter.done():  # a waiting call may have been cancelled
                waiter.set_result(None)


def callable_name(func: Callable[..., Any]) -> str:
    """`module:qualname` of a callable, for messages."""
    module = getattr(func, "__module__", None) or "?"
    qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"{module}:{qualname}"


def is_async_callable(func: Callable[..., Any]) -> bool:
    """Whether calling `func` returns a coroutine (async functions, methods, `async __call__`)."""
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - we want the method, not callable()
    )


class PythonAction(InlineAction):
    """Runs a Python callable with the step's inputs as keyword arguments.

    Async callables are awaited on the loop; sync ones run in a worker thread so they
    cannot stall other steps, unless they have proved quick and never wait (see
    `kflow.actions.placement`): then the runtime calls them inline, on the loop, without
    a task. Either way `current_step()` returns the attempt's context.
    """

    def __init__(self, func: Callable[..., Any], *, name: str | None = None) -> None:
        self.func = func
        self.name = name or f"function '{callable_name(func)}'"
        self._is_async = is_async_callable(func)
        self._params = _Params.of(func)
        self._fitting: set[tuple[str, ...]] = set()
        """Input names (in order) already checked and found to fit: a step passes the same
        ones at every call."""
        self.placement = Placement(pinned=is_pinned_to_threads(func))
        self._verdict = _Verdict()

    def __repr__(self) -> str:
        return f"PythonAction({self.name})"

    async def __call__(self, inputs: Mapping[str, Any], context: StepContext) -> Any:
        """Call the function once with `inputs` as keyword arguments."""
        self.check_inputs(inputs)
        token = bind_context(context)
        try:
            if self._is_async:
                result = await self.func(**inputs)
            else:
                result = await self._call_sync(inputs)
            if type(result) not in _PLAIN and inspect.isawaitable(result):
                result = await result  # a sync wrapper that returned a coroutine
            return result
        finally:
            token.var.reset(token)

    @property
    def inline(self) -> bool:
        """Whether a call may run synchronously, here and now: a sync function proved quick."""
        return self.placement.on_loop and not self._is_async

    @property
    def sync(self) -> bool:
        """Whether the function is a sync one (`call_inline` serves every call of those)."""
        return not self._is_async

    def awaiting_verdict(self) -> asyncio.Future[None] | None:
        """A future to wait on before a call of this sync function, while the calls under
        way in threads are about to judge it (see `Placement.proving`); else None."""
        if self._is_async or not self.placement.proving:
            return None
        return self._verdict.waiter()

    def call_inline(self, inputs: Mapping[str, Any], context: StepContext) -> Any:
        """Call a function that is `inline` right here, on the loop; raises what it raises.

        Returns a coroutine to await instead of the result when there is more to wait for:
        the function returned an awaitable, or it must run in a thread after all (it
        starts an event loop of its own, it was demoted since this call was queued, or
        its verdict sent it to threads).
        """
        self.check_inputs(inputs)
        token = bind_context(context)  # a thread takes a copy of the context as it starts
        try:
            ran, result = self._call_on_loop(inputs) if self.inline else (False, None)
            if not ran:  # not proved yet, demoted, judged slow, or it wants its own loop
                # In a thread, started now (not when a task gets to it): the next calls
                # count it.
                return self._in_thread(self._to_thread(inputs), context)
        finally:
            token.var.reset(token)
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            return self._bound(result, context)
        return result

    async def _call_sync(self, inputs: Mapping[str, Any]) -> Any:
        placement = self.placement
        if placement.proving:
            await self._verdict.wait()
        if placement.on_loop:
            ran, result = self._call_on_loop(inputs)
            if ran:
                return result
        return await self._call_in_thread(inputs)

    def _call_on_loop(self, inputs: Mapping[str, Any]) -> tuple[bool, Any]:
        """(True, result) of a call on the loop, or (False, None) if it must run again in a
        thread; raises what the function raises."""
        placement = self.placement
        start = mark()
        try:
            return True, self.func(**inputs)
        except RuntimeError as exc:
            if not starts_own_loop(exc):
                raise
            close_unstarted_coroutines(exc)
            placement.demote(for_good=True)  # and run the call again, in a thread
            _log.warning(
                "%s starts an event loop of its own; it runs in worker threads from now on",
                self.name,
                extra={"action": "step_function_demoted"},
            )
            return False, None
        finally:
            wall = time.perf_counter() - start[0]
            if wall <= QUICK_SECONDS:  # quick whatever else it did: no need to ask the OS
                placement.observe(wall, 0.0, ran_on_loop=True, blocked=False)
            else:
                self._observe_slow_on_loop(start)

    def _observe_slow_on_loop(self, start: Mark) -> None:
        wall, cpu, blocked, contended = spent_since(start)
        if self.placement.observe(
            wall, cpu, ran_on_loop=True, blocked=blocked, contended=contended
        ):
            _log.warning(
                "%s held up the event loop for %.1f ms; it runs in worker threads "
                "again (mark it @kflow.in_thread if it can block)",
                self.name,
                wall * 1000,
                extra={"action": "step_function_demoted"},
            )

    async def _call_in_thread(self, inputs: Mapping[str, Any]) -> Any:
        return await self._in_thread(self._to_thread(inputs))

    def _to_thread(self, inputs: Mapping[str, Any]) -> asyncio.Future[Any]:
        """Start a call in a worker thread now, in a copy of the current context; the
        future holds `timed_call`'s answer, and the call is observed once it is done."""
        future = threads.run_in_thread(timed_call, {"func": self.func, "kwargs": inputs})
        self.placement.start_in_thread()
        future.add_done_callback(self._observe_in_thread)
        return future

    def _observe_in_thread(self, future: asyncio.Future[Any]) -> None:
        placement = self.placement
        if future.cancelled() or future.exception() is not None:
            # Cancelled, by the step's timeout or the end of the run: the call may block,
            # so it ends the run of quick calls that would move the function onto the loop.
            placement.observe(math.inf, 0.0, ran_on_loop=False)
        else:
            _, _, wall, cpu = future.result()
            placement.observe(wall, cpu, ran_on_loop=False)
        self._verdict.settle_unless(placement.proving)

    @staticmethod
    async def _in_thread(future: asyncio.Future[Any], context: StepContext | None = None) -> Any:
        """The result of a call started by `_to_thread` (one coroutine: a task cancelled
        before it starts closes it, leaving none unawaited); `context` is the current step
        while a coroutine the function returned is awaited."""
        token = None if context is None else bind_context(context)
        try:
            result, error, _, _ = await future
            if error is not None:
                raise error
            if type(result) not in _PLAIN and inspect.isawaitable(result):
                result = await result  # a sync wrapper that returned a coroutine
            return result
        finally:
            if token is not None:
                token.var.reset(token)

    @staticmethod
    async def _bound(awaitable: Awaitable[Any], context: StepContext) -> Any:
        """Await `awaitable` with `context` as the current step (a task of its own has none)."""
        token = bind_context(context)
        try:
            return await awaitable
        finally:
            token.var.reset(token)

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Raise StepFailure(validation) if the function cannot take these inputs."""
        if self._params is None:
            return
        names = tuple(inputs)
        if names in self._fitting:
            return
        problems = self._params.problems(names)
        if problems:
            given = ", ".join(f"'{k}'" for k in inputs) or "none"
            raise StepFailure(
                f"{self.name} cannot be called with the step's inputs: "
                f"{'; '.join(problems)}; inputs given: {given}",
                ErrorKind.VALIDATION,
            )
        if len(self._fitting) < _FITTING_KEPT:
            self._fitting.add(names)


def import_object(ref: str) -> object:
    """Import the object named by `"package.module:name"` (the name may be dotted)."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise ActionNotFound(_malformed(ref))
    obj: object = _import_module(module_name, ref)
    where = module_name
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            kind = "module" if where == module_name else "object"
            hint = did_you_mean(part, public_names(obj))
            raise ActionNotFound(
                f"{kind} '{where}' has no attribute '{part}'{hint} (from '{ref}')"
            ) from None
        where = f"{module_name}:{part}" if where == module_name else f"{where}.{part}"
    return obj


def import_callable(ref: str) -> Callable[..., Any]:
    """Import the function (or other callable) named by `"package.module:function"`."""
    obj = import_object(ref)
    if not callable(obj):
        raise ActionNotFound(
            f"'{ref}' is not callable: it is a {type(obj).__name__}; "
            "point the step at a function, e.g. 'mypkg.tasks:fetch'"
        )
    return obj


def public_names(obj: object) -> list[str]:
    """The attribute names of `obj` that do not start with an underscore."""
    return [n for n in dir(obj) if not n.startswith("_")]


def _malformed(ref: str) -> str:
    module, dot, name = ref.rpartition(".")
    hint = f" (did you mean '{module}:{name}'?)" if dot and module and name else ""
    return (
        f"'{ref}' is not a 'module:function' reference{hint}; "
        "write the module, a colon and the name, e.g. 'mypkg.tasks:fetch'"
    )


def _import_module(name: str, ref: str) -> object:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or name
        if name == missing or name.startswith(missing + "."):
            raise ActionNotFound(
                f"module '{missing}' not found (from '{ref}'){_module_hint(missing)}; "
                "check the spelling, that its package is installed, and that its directory "
                "is on the Python path (`[python] paths` in kflow.toml)"
            ) from None
        # The module exists but one of its own imports does not.
        raise ActionNotFound(
            f"module '{name}' could not be imported (from '{ref}'): it imports "
            f"'{missing}', which is not installed"
        ) from exc
    except Exception as exc:
        raise ActionNotFound(
            f"module '{name}' failed to import (from '{ref}'): {type(exc).__name__}: {exc}"
        ) from exc


def _module_hint(missing: str) -> str:
    """Did-you-mean over the sibling modules of a module that was not found."""
    parent, _, leaf = missing.rpartition(".")
    try:
        path = getattr(importlib.import_module(parent), "__path__", None) if parent else None
    except Exception:  # a hint must never replace the real error
        return ""
    if parent and path is None:
        return ""
    match = closest(leaf, (m.name for m in pkgutil.iter_modules(path)))
    if match is None:
        return ""
    return f" (did you mean '{parent}.{match}'?)" if parent else f" (did you mean '{match}'?)"
