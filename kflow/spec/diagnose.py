"""Turning pydantic's validation errors into one-line, located problems in YAML terms."""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kflow.errors import Problem
from kflow.spec import coerce, suggest
from kflow.spec.models import WorkflowSpec
from kflow.spec.source import Path, SourceMap

_NAME_RULE = "a name of letters, digits, '_' and '-', not starting with a digit or '-'"
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "string_pattern_mismatch": _NAME_RULE,
}


_QUOTED = re.compile(r"'([^']*)'")
_LIMITS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


@dataclass(frozen=True)
class _Error:
    """A pydantic error with union-member tags removed from its path."""

    path: Path
    type: str
    message: str
    input: Any
    union_at: int | None
    """Length of the path to the union field this error came through, if any."""
    bounds: dict[str, Any] | None = None
    """pydantic's `ctx` (limits such as `ge`), when it has one."""


def validation_problems(
    error: ValidationError, data: Any, source: SourceMap, filename: str
) -> list[Problem]:
    """One problem per real mistake in `error` (union alternatives are merged)."""
    errors = [_clean(e, data) for e in error.errors(include_url=False)]
    return [_problem(e, source, filename) for e in _merge_unions(errors)]


def failed_paths(error: ValidationError, data: Any) -> list[Path]:
    """The data path of every problem `validation_problems` reports."""
    errors = [_clean(e, data) for e in error.errors(include_url=False)]
    return [e.path for e in _merge_unions(errors)]


def _clean(error: ErrorDetails, data: Any) -> _Error:
    """Drop the union tags pydantic puts in `loc` by following the path through the data."""
    path: list[str | int] = []
    union_at = None
    node = data
    for part in error["loc"]:
        found, child = _child(node, part)
        if found:
            node = child
        elif isinstance(part, str) and not _is_field(tuple(path), part):
            union_at = len(path)  # `part` names a union member (`bool`, `ParallelSpec`)
            continue
        else:
            node = None
        path.append(part)
    message = error["msg"].removeprefix("Value error, ")
    context = error.get("ctx")
    return _Error(tuple(path), error["type"], message, error.get("input"), union_at, context)


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _is_field(path: Path, name: str) -> bool:
    model = model_at(path)
    return model is None or name in spellings(model)


def _merge_unions(errors: list[_Error]) -> Iterable[_Error]:
    """Keep errors from inside the union member that matched the value's shape, or merge all."""
    groups: dict[Path, list[_Error]] = {}
    for error in errors:
        if error.union_at is None:
            yield error
        else:
            groups.setdefault(error.path[: error.union_at], []).append(error)
    for field_path, members in groups.items():
        deeper = [e for e in members if len(e.path) > len(field_path)]
        if deeper:
            yield from deeper
            continue
        expected = " or ".join(dict.fromkeys(_EXPECTED.get(e.type, e.message) for e in members))
        first = members[0]
        yield _Error(field_path, "union", f"expected {expected}", first.input, None)


def _problem(error: _Error, source: SourceMap, filename: str) -> Problem:
    path = error.path
    hint = None
    if error.type == "missing":
        where = source.locate(path[:-1])
        message = f"{_owner(path[:-1], source)}missing required key {path[-1]!r}"
        if path == ("steps",):
            hint = "a workflow needs a `steps:` list (or `tasks:`)"
    elif error.type == "extra_forbidden":
        where = source.locate(path, key=True)
        message = f"{_owner(path[:-1], source)}unknown key {path[-1]!r}"
        hint = _valid_keys(path)
    else:
        where = source.locate(path)
        message = f"{_owner(path, source)}{_explain(error)}"
        hint = _closest_choice(error)
    return Problem(message, filename, where[0], where[1], hint)


def _closest_choice(error: _Error) -> str | None:
    """`did you mean 'retry'?` for a misspelled choice such as `on_failure: retyr`."""
    if error.type != "literal_error" or not isinstance(error.input, str) or not error.bounds:
        return None
    choices = _QUOTED.findall(str(error.bounds.get("expected", "")))
    near = suggest.closest(error.input, choices)
    return f"did you mean {near!r}?" if near else None


def _owner(path: Path, source: SourceMap) -> str:
    return f"{source.display(path)}: " if path else ""


def _explain(error: _Error) -> str:
    if error.type == "union":
        return f"{error.message}, got {coerce.describe(error.input)}"
    if error.type == "too_short" and isinstance(error.input, list) and not error.input:
        return "must not be empty"
    given = f", got {coerce.describe(error.input)}"
    expected = _EXPECTED.get(error.type) or _bound(error)
    if expected is not None:
        return f"expected {expected}{given}"
    if error.message.startswith("Input should be "):
        return "expected " + error.message.removeprefix("Input should be ") + given
    return error.message[:1].lower() + error.message[1:]


def _bound(error: _Error) -> str | None:
    """`a number >= 0` for pydantic's limit errors."""
    symbol = _LIMITS.get(error.type)
    if symbol is None or not error.bounds:
        return None
    return f"a number {symbol} {next(iter(error.bounds.values()))}"


def _valid_keys(path: Path) -> str:
    model = model_at(path[:-1])
    if model is None:
        return ""
    names = spellings(model)
    near = suggest.closest(str(path[-1]), names)
    head = f"did you mean {near!r}? " if near else ""
    return f"{head}valid keys: {', '.join(names)}"


def model_at(path: Path) -> type[BaseModel] | None:
    """The model describing the mapping at `path`, if that mapping is one of the language's."""
    model: type[BaseModel] | None = WorkflowSpec
    for part in path:
        if model is None:
            return None
        if isinstance(part, str):
            info = model.model_fields.get(part)
            model = _model_in(info.annotation) if info is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is dict:
        return None  # free-form mappings (`inputs`, `outputs`) have no fixed keys
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


@functools.cache
def spellings(model: type[BaseModel]) -> tuple[str, ...]:
    """Every key a mapping of this model accepts, aliases included."""
    names: list[str] = []
    for name, info in model.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            names.extend(c for c in info.validation_alias.choices if isinstance(c, str))
        else:
            names.append(info.alias or name)
    return tuple(names)
