"""Finding repeated step ids, input and output names and error policies in raw data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kflow.errors import Problem
from kflow.spec.source import Path, SourceMap

# (list key, name key, what the name is called in messages)
_UNIQUE = (
    ("steps", "id", "step id"),
    ("inputs", "name", "input name"),
    ("outputs", "name", "output name"),
    ("error_handling", "step", "error_handling entry for step"),
)


@dataclass(frozen=True)
class Repeat:
    """A list item whose name was already used by an earlier item."""

    field: str
    index: int
    problem: Problem


def find_repeats(data: Any, source: SourceMap, filename: str) -> list[Repeat]:
    """Every item of `steps`, `inputs`, `outputs`, `error_handling` that repeats a name."""
    if not isinstance(data, dict):
        return []
    repeats = []
    for field, key, what in _UNIQUE:
        items = data.get(field)
        if not isinstance(items, list):
            continue
        first: dict[str, Path] = {}
        for index, item in enumerate(items):
            name = item.get(key) if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            path: Path = (field, index, key)
            if name not in first:
                first[name] = path
                continue
            line = source.locate(first[name])[0]
            where = source.locate(path)
            problem = Problem(
                f"duplicate {what} {name!r}; the first is at line {line}",
                filename,
                where[0],
                where[1],
                f"each {what.split(' ')[0]} needs its own name"
                if field != "error_handling"
                else "merge the two entries into one",
            )
            repeats.append(Repeat(field, index, problem))
    return repeats
