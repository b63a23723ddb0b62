"""Every error kflow raises, in one tree rooted at `KflowError`.

Messages say which object, what happened and what to do. Errors keep their
constructor arguments so they pickle across process pools and can be stored.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class ErrorKind(enum.StrEnum):
    """The seeds' error classes; the retry policy is chosen from the class."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    RESOURCE = "resource"
    DEPENDENCY = "dependency"
    TIMEOUT = "timeout"
    VALIDATION = "validation"
    SECURITY = "security"
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        """Whether a failure of this class is worth another attempt."""
        return self not in _NOT_RETRYABLE


_NOT_RETRYABLE = frozenset({ErrorKind.PERMANENT, ErrorKind.VALIDATION, ErrorKind.SECURITY})


class KflowError(Exception):
    """Something went wrong in kflow."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a workflow definition."""

    message: str
    file: str = "<string>"
    line: int = 0
    column: int = 0
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{where}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class SpecError(KflowError):
    """A workflow definition is invalid; `problems` lists every problem, located."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"the workflow definition has {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))

    def __reduce__(self) -> tuple[type[SpecError], tuple[tuple[Problem, ...]]]:
        return (SpecError, (self.problems,))


class InputError(KflowError):
    """The inputs given to a run do not match the workflow's declared inputs."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid run inputs:\n" + "\n".join(f"  - {p}" for p in self.problems))

    def __reduce__(self) -> tuple[type[InputError], tuple[tuple[str, ...]]]:
        return (InputError, (self.problems,))


class StepFailure(KflowError):
    """An action failed; raise it from an action to choose the error class.

    `kind` decides whether the failure is retried; `retry_after` (seconds)
    overrides the backoff for the next attempt.
    """

    def __init__(
        self,
        message: str,
        kind: ErrorKind | str = ErrorKind.UNKNOWN,
        *,
        retry_after: float | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = ErrorKind(kind)
        self.retry_after = retry_after
        self.details = details

    @property
    def retryable(self) -> bool:
        """Whether the runtime may try this step again."""
        return self.kind.retryable

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_step_failure, (self.message, self.kind, self.retry_after, self.details))


def _rebuild_step_failure(
    message: str, kind: ErrorKind, retry_after: float | None, details: str | None
) -> StepFailure:
    return StepFailure(message, kind, retry_after=retry_after, details=details)


class ActionNotFound(KflowError):
    """A step names an agent, action or callable that cannot be found."""


class RunNotFound(KflowError):
    """No run with this id exists in the store."""

    def __init__(self, run_id: str, store: str) -> None:
        self.run_id = run_id
        self.store = store
        super().__init__(
            f"no run '{run_id}' in {store}; list runs with `kflow runs` "
            "or point at another database with --db"
        )

    def __reduce__(self) -> tuple[type[RunNotFound], tuple[str, str]]:
        return (RunNotFound, (self.run_id, self.store))


class DefinitionNotFound(KflowError):
    """A run's workflow definition is missing from the store that holds the run."""

    def __init__(self, digest: str, store: str) -> None:
        self.digest = digest
        self.store = store
        super().__init__(
            f"the workflow definition {digest[:12]} of this run is not in {store}; the "
            "database is incomplete (copied without its -wal file, or edited by hand?)"
        )

    def __reduce__(self) -> tuple[type[DefinitionNotFound], tuple[str, str]]:
        return (DefinitionNotFound, (self.digest, self.store))


class RunStateError(KflowError):
    """A request does not fit the run's current state (e.g. resuming a finished run)."""


class StoreError(KflowError):
    """The journal store failed; the driver's error is the `__cause__`."""


class LeaseChanged(StoreError):
    """An append made only while a run's lease stayed with the holder its caller saw was
    refused: another process took the run meanwhile. Nothing was appended."""
