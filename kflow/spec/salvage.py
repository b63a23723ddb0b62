"""Keeping the valid part of an invalid definition, so later checks can still run on it.

A definition with a bad `timeout` still has steps whose references, dependencies and
policies can be checked; reporting those problems now saves the user a round trip.
Each invalid value is removed (its default applies); an item whose identity is in
doubt (a step with a bad `id` or `agent`, an input with a bad `name` or `type`) is left
out whole, and references to it are then not reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kflow.spec import diagnose
from kflow.spec.models import WorkflowSpec
from kflow.spec.source import Path

LISTS = ("steps", "inputs", "outputs", "error_handling")
# Fields whose removal would change what an item is, or cause problems of its own.
_IDENTITY = {
    "steps": frozenset({"id", "agent", "escalation_agent"}),
    "inputs": frozenset({"name", "type", "values"}),
    "outputs": frozenset({"name"}),
    "error_handling": frozenset({"step", "escalation_agent"}),
}
_ATTEMPTS = 3


@dataclass(frozen=True)
class Omitted:
    """What a partial spec leaves out because it is invalid."""

    steps: frozenset[str] = frozenset()
    """Ids of the steps left out: references to them are not problems of their own."""
    inputs: frozenset[str] = frozenset()
    """Names of the inputs left out."""
    all_inputs: bool = False
    """True when the whole `inputs` list was left out (so no input reference can be checked)."""
    outputs_incomplete: bool = False
    """True when a step or a step's `outputs` was left out (so unbound outputs are unsure)."""
    kept: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """For each list (`steps`, ...), the index in the file of each item kept."""

    def source_index(self, list_name: str, index: int) -> int:
        """Where item `index` of the partial spec's list was in the file."""
        kept = self.kept.get(list_name)
        return kept[index] if kept is not None else index


def salvage(data: dict[str, Any], failed: list[Path]) -> tuple[WorkflowSpec, Omitted] | None:
    """The spec without the parts at `failed` (paths in `data`), if what is left is valid.

    `data` is changed in place: it is the loader's own copy.
    """
    drop: dict[str, set[int]] = {name: set() for name in LISTS}
    original = {name: data.get(name) for name in LISTS}
    state = _State()
    for _ in range(_ATTEMPTS):
        for path in failed:
            if not _trim(data, path, drop, state):
                return None
        kept, candidate = _without(data, drop)
        try:
            spec = WorkflowSpec.model_validate(candidate)
        except ValidationError as error:
            failed = [_in_file(path, kept) for path in diagnose.failed_paths(error, candidate)]
            continue
        omitted = Omitted(
            steps=_names(original["steps"], drop["steps"], "id"),
            inputs=_names(original["inputs"], drop["inputs"], "name"),
            all_inputs=state.all_inputs,
            outputs_incomplete=state.outputs_incomplete or bool(drop["steps"]),
            kept=kept,
        )
        return spec, omitted
    return None


@dataclass
class _State:
    all_inputs: bool = False
    outputs_incomplete: bool = False


def _trim(data: dict[str, Any], path: Path, drop: dict[str, set[int]], state: _State) -> bool:
    """Remove what `path` points at; False when nothing usable would be left."""
    if not path:
        return False
    head = path[0]
    if not isinstance(head, str) or head not in drop:
        data.pop(str(head), None)  # a top-level field: its default applies
        return True
    items = data.get(head)
    if len(path) == 1 or not isinstance(items, list) or not isinstance(path[1], int):
        state.all_inputs = state.all_inputs or head == "inputs"
        data.pop(head, None)
        return head != "steps"
    index = path[1]
    item = items[index] if 0 <= index < len(items) else None
    if len(path) == 2 or path[2] in _IDENTITY[head] or not isinstance(item, dict):
        drop[head].add(index)
    else:
        state.outputs_incomplete |= head == "steps" and path[2] == "outputs"
        _remove(item, path[2:])
    return True


def _remove(item: dict[str, Any], rest: Path) -> None:
    """Delete the deepest mapping key on `rest`; a value inside a list takes its list along."""
    holder, key, node = item, rest[0], item.get(str(rest[0]))
    for part in rest[1:]:
        if not (isinstance(node, dict) and part in node):
            break
        holder, key, node = node, part, node[part]
    holder.pop(str(key), None)


def _without(
    data: dict[str, Any], drop: dict[str, set[int]]
) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    candidate = dict(data)
    kept: dict[str, tuple[int, ...]] = {}
    for name, indices in drop.items():
        items = candidate.get(name)
        if indices and isinstance(items, list):
            kept[name] = tuple(i for i in range(len(items)) if i not in indices)
            candidate[name] = [items[i] for i in kept[name]]
    return kept, candidate


def _in_file(path: Path, kept: Mapping[str, tuple[int, ...]]) -> Path:
    """A path in the candidate (items dropped) as a path in the loader's data."""
    if len(path) > 1 and path[0] in kept and isinstance(path[1], int):
        return (path[0], kept[str(path[0])][path[1]], *path[2:])
    return path


def _names(items: Any, indices: set[int], key: str) -> frozenset[str]:
    if not isinstance(items, list):
        return frozenset()
    names = (items[i].get(key) for i in indices if isinstance(items[i], dict))
    return frozenset(n for n in names if isinstance(n, str))
