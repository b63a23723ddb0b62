"""Did-you-mean suggestions for misspelled names."""

from __future__ import annotations

import difflib
from collections.abc import Collection

_MANY = 2000
"""Above this many candidates only a prefix match is tried, to keep errors fast on huge graphs."""


def closest(word: str, candidates: Collection[str]) -> str | None:
    """The candidate most like `word`, or None if none is close."""
    if len(candidates) > _MANY:
        return next((c for c in candidates if c.startswith(word) or word.startswith(c)), None)
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Collection[str]) -> str:
    """` (did you mean 'x'?)` when a candidate is close, else an empty string."""
    match = closest(word, candidates)
    return f" (did you mean {match!r}?)" if match else ""


def listing(names: Collection[str], limit: int = 12) -> str:
    """Names as `a, b, c` (at most `limit`, then `and N more`)."""
    shown = list(names)[:limit]
    more = len(names) - len(shown)
    text = ", ".join(shown) if shown else "none"
    return f"{text} and {more} more" if more > 0 else text
