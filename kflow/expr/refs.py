"""References (`$inputs.x`, `$steps.<id>.<output>`) and the value templates that hold them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
REFERENCE = re.compile(rf"\$(inputs|steps)((?:\.(?:{_NAME}|\d+))+)")


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference; `path` is the dotted tail after `inputs` or `steps`."""

    root: Literal["inputs", "steps"]
    path: tuple[str, ...]

    @property
    def text(self) -> str:
        """The reference as written, e.g. `$steps.plan.research_plan`."""
        return "$" + ".".join((self.root, *self.path))

    @property
    def step_id(self) -> str | None:
        """The referenced step, or None for an input reference."""
        return self.path[0] if self.root == "steps" else None

    @property
    def name(self) -> str | None:
        """The input name, or the step's output name (None if the reference stops at the step)."""
        if self.root == "inputs":
            return self.path[0]
        return self.path[1] if len(self.path) > 1 else None

    @property
    def subpath(self) -> tuple[str, ...]:
        """Keys or indices to follow inside the referenced value."""
        return self.path[1:] if self.root == "inputs" else self.path[2:]


@dataclass(frozen=True, slots=True)
class Interpolation:
    """A string with references embedded in text: `"report for $inputs.topic"`."""

    parts: tuple[str | Ref, ...]


Template = Any
"""A value tree whose leaves may be `Ref` or `Interpolation` (kept `Any`: YAML values are open)."""


def parse_reference(text: str) -> Ref | None:
    """Parse a string that is exactly one reference, else return None."""
    match = REFERENCE.fullmatch(text)
    if match is None:
        return None
    root: Literal["inputs", "steps"] = "inputs" if match.group(1) == "inputs" else "steps"
    return Ref(root, tuple(match.group(2)[1:].split(".")))


def compile_template(value: Any) -> Template:
    """Turn plain YAML data into a template, replacing reference strings by `Ref` nodes."""
    if isinstance(value, str):
        return _compile_string(value)
    if isinstance(value, Mapping):
        return {k: compile_template(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_template(v) for v in value]
    return value


def _compile_string(text: str) -> str | Ref | Interpolation:
    if "$" not in text:
        return text
    whole = parse_reference(text)
    if whole is not None:
        return whole
    parts: list[str | Ref] = []
    position = 0
    for match in REFERENCE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        ref = parse_reference(match.group(0))
        assert ref is not None
        parts.append(ref)
        position = match.end()
    if not parts:
        return text
    if position < len(text):
        parts.append(text[position:])
    return Interpolation(tuple(parts))


def references(template: Template) -> Iterator[Ref]:
    """Every reference inside a template, in order of appearance."""
    if isinstance(template, Ref):
        yield template
    elif isinstance(template, Interpolation):
        yield from (p for p in template.parts if isinstance(p, Ref))
    elif isinstance(template, dict):
        for value in template.values():
            yield from references(value)
    elif isinstance(template, list):
        for value in template:
            yield from references(value)


class MissingValue(LookupError):
    """A reference points at a value the run does not have."""


def resolve(ref: Ref, inputs: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]) -> Any:
    """The value a reference points at, given run inputs and finished steps' outputs."""
    if ref.root == "inputs":
        if ref.path[0] not in inputs:
            raise MissingValue(f"{ref.text}: the run has no input '{ref.path[0]}'")
        value: Any = inputs[ref.path[0]]
    else:
        step_id = ref.path[0]
        if step_id not in steps:
            raise MissingValue(f"{ref.text}: step '{step_id}' has no result")
        value = steps[step_id]
        if len(ref.path) > 1:
            if ref.path[1] not in value:
                raise MissingValue(f"{ref.text}: step '{step_id}' has no output '{ref.path[1]}'")
            value = value[ref.path[1]]
    for key in ref.subpath:
        value = _follow(value, key, ref)
    return value


def _follow(value: Any, key: str, ref: Ref) -> Any:
    if isinstance(value, Mapping) and key in value:
        return value[key]
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    raise MissingValue(f"{ref.text}: no '{key}' in {type(value).__name__} value")


def render(
    template: Template, inputs: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]
) -> Any:
    """Replace every reference in a template by its value."""
    if isinstance(template, Ref):
        return resolve(template, inputs, steps)
    if isinstance(template, Interpolation):
        return "".join(
            p if isinstance(p, str) else _as_text(resolve(p, inputs, steps)) for p in template.parts
        )
    if isinstance(template, dict):
        # Most inputs are plain values: skip the call for those (a start renders every input).
        return {
            k: v if type(v) in _PLAIN else render(v, inputs, steps) for k, v in template.items()
        }
    if isinstance(template, list):
        return [render(v, inputs, steps) for v in template]
    return template


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Types a compiled template leaves as they are (a string with a reference is not a str)."""


def is_flat(template: Mapping[str, Template]) -> bool:
    """Whether every value of a dict template is a plain value: `render` then only copies it."""
    return all(type(v) in _PLAIN for v in template.values())


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
