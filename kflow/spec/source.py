"""Where each part of a workflow definition was written: paths to (line, column)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Path = tuple[str | int, ...]
"""A position in the definition's data: `("steps", 2, "inputs", "plan")`."""

Location = tuple[int, int]
"""1-based (line, column); (0, 0) when unknown."""

UNKNOWN: Location = (0, 0)


@dataclass(frozen=True)
class SourceMap:
    """Locations of the keys and values of a loaded definition, by path.

    Paths use the language's own names (`steps`, `id`); `spelled` remembers where the
    file used another accepted spelling (`tasks`, `name`) so messages can quote it.
    """

    values: Mapping[Path, Location] = field(default_factory=dict)
    """Where each value starts (mappings: their first key; sequences: their first item)."""
    keys: Mapping[Path, Location] = field(default_factory=dict)
    """Where each mapping key was written."""
    spelled: Mapping[Path, str] = field(default_factory=dict)
    """Keys written under another accepted name, by their path in the language's names."""

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """The location of `path`'s value (or key), else of its longest known prefix."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return UNKNOWN

    def display(self, path: Path) -> str:
        """The path as the file spells it: `tasks[2].timeout`."""
        text = ""
        for end, part in enumerate(path, start=1):
            if isinstance(part, int):
                text += f"[{part}]"
            else:
                name = self.spelled.get(path[:end], part)
                text += f".{name}" if text else name
        return text
