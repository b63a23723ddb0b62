"""Checking a value against a declared input type, and reading typed values from CLI text."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

EXPECTED: dict[str, str] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list (JSON text such as [1, 2] on the command line)",
    "object": 'a mapping (JSON text such as {"a": 1} on the command line)',
    "document": "a string or a mapping",
}


def describe(value: Any) -> str:
    """A short rendering of a value for messages: `'abc'`, `3`, `a mapping`."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def coerce_value(
    type_: str, values: Sequence[Any] | None, value: Any, *, from_text: bool = False
) -> Any:
    """Return `value` as the declared type, or raise ValueError saying what was expected.

    With `from_text`, strings are parsed the way the command line writes them:
    `3` for integers, `true`/`false` for booleans, JSON for arrays and objects.
    """
    if from_text and isinstance(value, str):
        value = _parse_text(type_, values, value)
    if values is not None:
        if value not in values:
            allowed = ", ".join(str(v) for v in values)
            raise ValueError(f"{describe(value)} is not one of the allowed values: {allowed}")
        return value
    if not _fits(type_, value):
        raise ValueError(f"expected {EXPECTED[type_]}, got {describe(value)}")
    return value


def _fits(type_: str, value: Any) -> bool:
    match type_:
        case "string":
            return isinstance(value, str)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "array":
            return isinstance(value, list)
        case "object":
            return isinstance(value, dict)
        case "document":
            return isinstance(value, str | dict)
        case _:  # "any", and "enum" (checked against its values above)
            return True


def _parse_text(type_: str, values: Sequence[Any] | None, text: str) -> Any:
    """Read CLI text as the declared type; leave it unchanged when it does not parse."""
    if values is not None:
        # `-i n=2` must match `values: [1, 2, 3]` as well as `values: ["2"]`.
        return next((v for v in values if v == text or _spelled(v) == text), text)
    match type_:
        case "integer":
            try:
                return int(text.strip())
            except ValueError:
                return text
        case "number":
            return _parse_number(text.strip())
        case "boolean":
            lowered = text.strip().lower()
            return True if lowered in _TRUE else False if lowered in _FALSE else text
        case "array" | "object":
            try:
                return json.loads(text)
            except ValueError:
                return text
    return text


def _parse_number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    # NaN and infinity cannot be journaled as JSON, so they stay text and are rejected.
    return number if math.isfinite(number) else text


def _spelled(value: Any) -> str:
    """How a YAML value is typed on the command line (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
