"""Binding the values a run is started with to the workflow's declared inputs."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kflow.errors import InputError
from kflow.spec import coerce, suggest
from kflow.spec.models import InputSpec


def parse_cli_inputs(pairs: Sequence[str]) -> dict[str, str]:
    """Read `-i key=value` arguments into a dict; raise InputError listing every bad one."""
    result: dict[str, str] = {}
    problems: list[str] = []
    for pair in pairs:
        name, equals, value = pair.partition("=")
        name = name.strip()
        if not equals:
            problems.append(f"{pair!r} has no '='; write -i name=value")
        elif not name:
            problems.append(f"{pair!r} has no name before '='; write -i name=value")
        elif name in result:
            problems.append(f"input {name!r} is given twice; give it once")
        else:
            result[name] = value
    if problems:
        raise InputError(problems)
    return result


def bind_inputs(declared: Sequence[InputSpec], given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's inputs: given values checked and coerced, defaults applied.

    Strings are read as the declared type (`3` for an integer, `true` for a boolean,
    JSON for arrays and objects), so CLI text and typed Python values both work.
    Raises InputError listing every problem: unknown names, missing required inputs,
    wrong types and values outside an enum.
    """
    names = [spec.name for spec in declared]
    problems = [_unknown(name, names) for name in given if name not in names]
    bound: dict[str, Any] = {}
    for spec in declared:
        if spec.name in given:
            try:
                bound[spec.name] = coerce.coerce_value(
                    spec.type, spec.values, given[spec.name], from_text=True
                )
            except ValueError as error:
                problems.append(f"input {spec.name!r}: {error}")
        elif spec.default is not None:
            # A fresh copy, so a step that changes a list default cannot change the next run's.
            bound[spec.name] = copy.deepcopy(spec.default)
        elif spec.required:
            problems.append(
                f"missing required input {spec.name!r} ({_what(spec)}); "
                f"pass it with -i {spec.name}=..."
            )
        else:
            bound[spec.name] = None
    if problems:
        raise InputError(problems)
    return bound


def _unknown(name: str, declared: Sequence[str]) -> str:
    if not declared:
        return f"unknown input {name!r}: this workflow declares no inputs"
    return (
        f"unknown input {name!r}{suggest.did_you_mean(name, declared)}; "
        f"declared inputs: {suggest.listing(declared)}"
    )


def _what(spec: InputSpec) -> str:
    if spec.values is not None:
        return "one of " + ", ".join(str(v) for v in spec.values)
    return spec.type
