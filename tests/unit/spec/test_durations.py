"""Durations: seconds as numbers or text with units, always finite."""

from __future__ import annotations

import pytest

from kflow.spec.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("300s", 300.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25)],
)
def test_durations_are_read_as_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "1 hour", "", "m5", True])
def test_bad_durations_are_rejected_with_examples(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (10**400, "100000000000000000...0000000000000000000"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
        ("1e400", "'1e400'"),
        ("inf", "'inf'"),
        ("9" * 400 + "h", "'999999999999...999999999999h'"),
    ],
)
def test_durations_beyond_a_float_are_rejected(value: object, shown: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == f"{shown} is not a finite number of seconds"
