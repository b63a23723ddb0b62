"""The built-in actions that need no code of the user's: `sleep`, `echo` and `noop`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kflow.actions.base import InlineAction, StepContext, TimerAction
from kflow.errors import ErrorKind, StepFailure
from kflow.spec.durations import parse_duration
from kflow.spec.suggest import did_you_mean

_INFINITY = math.inf


class Sleep(TimerAction):
    """Wait `seconds` (a number, or a duration like '250ms'); return {"slept": seconds}."""

    def seconds(self, inputs: Mapping[str, Any]) -> float:
        """The wait the inputs ask for; StepFailure(validation) if they are wrong."""
        value = inputs.get("seconds")
        if type(value) is float and 0 <= value < _INFINITY and len(inputs) == 1:
            return value  # the usual case, checked in one line: this runs per start
        _only(inputs, ("seconds",), "sleep")
        return _seconds(value)

    def result(self, seconds: float) -> dict[str, Any]:
        """{"slept": seconds}."""
        return {"slept": seconds}


sleep = Sleep()
"""The built-in `sleep` action."""


class Echo(InlineAction):
    """Return the inputs unchanged, as a dict."""

    def call_inline(self, inputs: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
        """The inputs, as a dict."""
        return dict(inputs)


class Noop(InlineAction):
    """Do nothing and return {}."""

    def call_inline(self, inputs: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
        """{}."""
        return {}


echo = Echo()
"""The built-in `echo` action."""
noop = Noop()
"""The built-in `noop` action."""


def _only(inputs: Mapping[str, Any], allowed: tuple[str, ...], action: str) -> None:
    unknown = [name for name in inputs if name not in allowed]
    if unknown:
        listed = "; ".join(f"unknown input '{n}'{did_you_mean(n, allowed)}" for n in unknown)
        raise StepFailure(
            f"{action}: {listed}; it takes {', '.join(allowed)}", ErrorKind.VALIDATION
        )


def _seconds(value: object) -> float:
    if value is None:
        raise StepFailure(
            "sleep needs a `seconds` input, e.g. seconds: 5 or seconds: '250ms'",
            ErrorKind.VALIDATION,
        )
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise StepFailure(f"sleep: `seconds`: {exc}", ErrorKind.VALIDATION) from None
    if isinstance(value, float) and value >= 0:
        return value
    raise StepFailure(
        f"sleep: `seconds` must be a number of seconds >= 0, not {value!r}", ErrorKind.VALIDATION
    )
