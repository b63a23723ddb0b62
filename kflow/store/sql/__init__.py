"""Named SQL queries, kept in `.sql` files per dialect and parsed once."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of `-- name: x` blocks into a name -> query mapping; a name given twice
    is an error (an edit to one copy would be ignored)."""
    parts = _HEADER.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"the query '{name}' is defined twice")
        found[name] = body.strip()
    return found


@cache
def queries(dialect: str) -> dict[str, str]:
    """The named queries of a dialect (`sqlite`, `postgres`)."""
    text = resources.files(__package__).joinpath(dialect, "queries.sql").read_text("utf-8")
    return parse_queries(text)


@cache
def migrations(dialect: str) -> tuple[tuple[int, str], ...]:
    """The dialect's migrations as (version, script), oldest first."""
    folder = resources.files(__package__).joinpath(dialect, "migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return tuple(sorted(found))
