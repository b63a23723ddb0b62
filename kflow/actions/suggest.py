"""Did-you-mean hints for names that were not found."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

_CUTOFF = 0.7


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like `word`, or None when nothing is close enough."""
    best, best_score = None, _CUTOFF
    for candidate in candidates:
        score = _similarity(word, candidate)
        if score > best_score:
            best, best_score = candidate, score
    return best


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`" (did you mean 'x'?)"` for the closest candidate, or `""`."""
    match = closest(word, candidates)
    return f" (did you mean '{match}'?)" if match else ""


def _similarity(word: str, candidate: str) -> float:
    a, b = word.lower(), candidate.lower()  # case slips ("kplanner") are still close
    score = SequenceMatcher(None, a, b).ratio()
    if len(a) >= 4:
        # A misspelt abbreviation of a long name ("decompse" for "decompose_research_goal")
        # matches the name's start or one of its words, not the whole name.
        parts = [b[: len(a)], *b.replace("-", "_").split("_")]
        score = max(score, *(0.9 * SequenceMatcher(None, a, p).ratio() for p in parts))
    return score
