"""Naming a failure: which of the seeds' error classes an exception belongs to."""

from __future__ import annotations

import errno
import math
import traceback as tb
from dataclasses import dataclass
from types import TracebackType

from kflow.errors import ErrorKind, StepFailure

_TRACEBACK_CHARS = 20_000
_SHORT_OF_RESOURCES = frozenset(
    {errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EDQUOT, errno.EAGAIN}
)

# Checked in order, so subclasses come before their bases (TimeoutError is an OSError).
_BY_TYPE: tuple[tuple[type[BaseException], ErrorKind], ...] = (
    (TimeoutError, ErrorKind.TIMEOUT),
    (ConnectionError, ErrorKind.TRANSIENT),  # includes BrokenPipe, ConnectionReset/Refused
    (PermissionError, ErrorKind.SECURITY),
    (FileNotFoundError, ErrorKind.PERMANENT),
    (MemoryError, ErrorKind.RESOURCE),
)


@dataclass(frozen=True, slots=True)
class Classified:
    """An exception reduced to what the journal and the retry policy need."""

    kind: ErrorKind
    message: str
    """Readable one-liner, e.g. "ValueError: bad thing"."""
    type_name: str
    """The exception's class: bare for builtins, `module.Class` otherwise."""
    retry_after: float | None = None
    """Seconds the failure asked to wait before the next attempt, if it said."""
    traceback: str | None = None
    details: str | None = None

    @property
    def retryable(self) -> bool:
        """Whether this class of failure is worth another attempt."""
        return self.kind.retryable


def classify(exc: BaseException, *, with_traceback: bool = False) -> Classified:
    """Name the error class of `exc` and render a readable message for it."""
    kind = _kind(exc)
    name = type(exc).__name__
    if isinstance(exc, StepFailure):
        message = exc.message
    else:
        text = str(exc)
        message = f"{name}: {text}" if text else name
    return Classified(
        kind=kind,
        message=message,
        type_name=_type_name(exc),
        retry_after=_retry_after(exc),
        traceback=_traceback(exc) if with_traceback else None,
        details=exc.details if isinstance(exc, StepFailure) else None,
    )


def _kind(exc: BaseException) -> ErrorKind:
    if isinstance(exc, StepFailure):
        return exc.kind
    if isinstance(exc, BaseExceptionGroup):
        # One class for the group only when every failure inside agrees.
        kinds = {_kind(inner) for inner in exc.exceptions}
        return kinds.pop() if len(kinds) == 1 else ErrorKind.UNKNOWN
    for cls, kind in _BY_TYPE:
        if isinstance(exc, cls):
            return kind
    if isinstance(exc, OSError) and exc.errno in _SHORT_OF_RESOURCES:
        return ErrorKind.RESOURCE
    if _is_pydantic_validation_error(exc):
        return ErrorKind.VALIDATION
    return ErrorKind.UNKNOWN


def _is_pydantic_validation_error(exc: BaseException) -> bool:
    # Matched by name so classifying never imports pydantic.
    return any(
        cls.__name__ == "ValidationError" and cls.__module__.startswith("pydantic")
        for cls in type(exc).__mro__
    )


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _retry_after(exc: BaseException) -> float | None:
    # StepFailure has it; other libraries' errors sometimes carry the same attribute.
    value = getattr(exc, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _traceback(exc: BaseException) -> str:
    text = "".join(tb.format_exception(type(exc), exc, _from_user_code(exc.__traceback__)))
    return text if len(text) <= _TRACEBACK_CHARS else "...\n" + text[-_TRACEBACK_CHARS:]


def _from_user_code(trace: TracebackType | None) -> TracebackType | None:
    """The traceback without its leading frames of kflow and asyncio (how the step was
    called, in a thread or on the loop), unless there is nothing else: a bug of kflow's."""
    first = trace
    while trace is not None and _is_plumbing(trace.tb_frame.f_globals.get("__name__", "")):
        trace = trace.tb_next
    return trace or first


def _is_plumbing(module: str) -> bool:
    return module == "kflow" or module.startswith(("kflow.", "asyncio.", "concurrent."))
