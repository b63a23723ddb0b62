"""Durations as the language writes them: seconds as a number, or text with units."""

from __future__ import annotations

import math
import re
import reprlib

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> object:
    """Turn `30`, `1.5`, `"300s"`, `"5m"`, `"1h30m"` or `"250ms"` into seconds (a float).

    ValueError if the text is not a duration or the number is not finite; a value of
    any other type is returned as it is, for the caller to reject.
    """
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a duration; write seconds, e.g. 30 or '5m'")
    if isinstance(value, int | float):
        return _finite(value, value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"'{value}' is not a duration; write seconds as a number or use units, "
                    "e.g. 30, '300s', '5m', '1h30m', '250ms'"
                ) from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
        return _finite(seconds, value)
    return value


def _finite(number: float, written: object) -> float:
    try:
        seconds = float(number)
    except OverflowError:  # an int beyond a float's range
        seconds = math.inf
    if not math.isfinite(seconds):
        raise ValueError(f"{reprlib.repr(written)} is not a finite number of seconds")
    return seconds
