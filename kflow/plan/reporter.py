"""Collecting the compiler's problems, located through the definition's SourceMap."""

from __future__ import annotations

from kflow.errors import Problem
from kflow.spec.salvage import Omitted
from kflow.spec.source import Path, SourceMap


class Reporter:
    """Located problems of one compilation, in the order found."""

    def __init__(self, source: SourceMap, filename: str, omitted: Omitted | None) -> None:
        self.source = source
        self.filename = filename
        self.omitted = omitted or Omitted()
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str, hint: str | None = None, *, key: bool = False) -> None:
        """Record a problem at `path` (its key, with `key`) in the spec's own indices."""
        line, column = self.source.locate(self.in_file(path), key=key)
        self.problems.append(Problem(message, self.filename, line, column, hint or None))

    def in_file(self, path: Path) -> Path:
        """`path` with list indices of a partial spec turned back into the file's indices."""
        if len(path) > 1 and isinstance(path[0], str) and isinstance(path[1], int):
            return (path[0], self.omitted.source_index(path[0], path[1]), *path[2:])
        return path

    def first_at(self, path: Path) -> str:
        """`; the first is at line N` for a repeated name first written at `path`, if known."""
        line = self.source.locate(self.in_file(path))[0]
        return f"; the first is at line {line}" if line else ""

    def step_left_out(self, step_id: str) -> bool:
        """Whether a step was left out of a partial spec (so references to it are not errors)."""
        return step_id in self.omitted.steps

    def input_left_out(self, name: str) -> bool:
        """Whether an input was left out of a partial spec."""
        return self.omitted.all_inputs or name in self.omitted.inputs
