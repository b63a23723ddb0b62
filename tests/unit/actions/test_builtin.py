from __future__ import annotations

import asyncio
import time

import pytest

from kflow.actions import StepContext, echo, noop, sleep
from kflow.errors import ErrorKind, StepFailure


def test_sleep_waits_and_reports_how_long(context: StepContext) -> None:
    started = time.monotonic()
    assert asyncio.run(sleep({"seconds": 0.05}, context)) == {"slept": 0.05}
    assert time.monotonic() - started >= 0.05


def test_sleep_accepts_a_duration_string(context: StepContext) -> None:
    assert asyncio.run(sleep({"seconds": "10ms"}, context)) == {"slept": 0.01}


def test_sleep_without_seconds_says_what_to_give(context: StepContext) -> None:
    with pytest.raises(StepFailure) as caught:
        asyncio.run(sleep({}, context))
    assert caught.value.kind is ErrorKind.VALIDATION
    assert "sleep needs a `seconds` input, e.g. seconds: 5" in caught.value.message


@pytest.mark.parametrize("bad", [-1, True, [1]])
def test_sleep_rejects_what_is_not_a_number_of_seconds(bad: object, context: StepContext) -> None:
    with pytest.raises(StepFailure, match=r"sleep: `seconds` must be a number of seconds >= 0"):
        asyncio.run(sleep({"seconds": bad}, context))


def test_sleep_rejects_a_malformed_duration(context: StepContext) -> None:
    with pytest.raises(StepFailure, match="sleep: `seconds`: 'a while' is not a duration"):
        asyncio.run(sleep({"seconds": "a while"}, context))


def test_sleep_rejects_unknown_inputs_with_a_suggestion(context: StepContext) -> None:
    with pytest.raises(StepFailure) as caught:
        asyncio.run(sleep({"second": 1}, context))
    assert caught.value.message == (
        "sleep: unknown input 'second' (did you mean 'seconds'?); it takes seconds"
    )


def test_echo_returns_its_inputs_as_a_new_dict(context: StepContext) -> None:
    inputs = {"a": 1, "b": [2]}
    result = asyncio.run(echo(inputs, context))
    assert result == inputs
    assert result is not inputs


def test_noop_returns_an_empty_dict(context: StepContext) -> None:
    assert asyncio.run(noop({"ignored": True}, context)) == {}
