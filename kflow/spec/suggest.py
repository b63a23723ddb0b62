"""Did-you-mean suggestions for misspelled names, shared by every room that reports one."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from difflib import SequenceMatcher

_MANY = 2000
"""Above this many candidates only a prefix match is tried, to keep errors fast on huge graphs."""
_CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `word`, or None if none is close."""
    candidates = list(candidates)
    if len(candidates) > _MANY:
        return next((c for c in candidates if c.startswith(word) or word.startswith(c)), None)
    best, best_score = None, _CUTOFF
    for candidate in candidates:
        score = _similarity(word, candidate)
        if score > best_score:
            best, best_score = candidate, score
    return best


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a candidate is close, else an empty string."""
    match = closest(word, candidates)
    return f" (did you mean '{match}'?)" if match else ""


def listing(names: Collection[str], limit: int = 12) -> str:
    """Names as `a, b, c` (at most `limit`, then `and N more`)."""
    shown = list(names)[:limit]
    more = len(names) - len(shown)
    text = ", ".join(shown) if shown else "none"
    return f"{text} and {more} more" if more > 0 else text


def _similarity(word: str, candidate: str) -> float:
    a, b = word.lower(), candidate.lower()  # case slips ("kplanner") are still close
    score = SequenceMatcher(None, a, b).ratio()
    if len(a) >= 4:
        # A misspelt abbreviation of a long name ("decompse" for "decompose_research_goal")
        # matches the name's start or one of its words, not the whole name.
        parts = [b[: len(a)], *b.replace("-", "_").split("_")]
        score = max(score, *(0.9 * SequenceMatcher(None, a, p).ratio() for p in parts))
    return score
