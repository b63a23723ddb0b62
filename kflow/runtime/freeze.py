"""Keeping long-lived run state out of the garbage collector's full collections.

A full collection scans every live object; the plan and state of a 10,000-step run make
that ~80 ms, a stall of every timer on the loop. While workers drive runs, what exists
when they adopt runs is moved to the collector's permanent generation (`gc.freeze`), and
moved back when the last of them stops. An application that freezes objects itself is
left alone: kflow then neither freezes nor unfreezes.

Building the state of a large run allocates tens of thousands of objects, which would
trigger collections that scan them (and the plan) over and over before the freeze:
`collection_paused` holds the collector off while that happens.

While frozen, the youngest generation is also collected less often (`YOUNG_THRESHOLD`
objects, not Python's 700): driving runs allocates objects that live for a step or two
(tasks, futures, events), and at 700 the collector scanned most of them while they were
still alive, then again in the next generation: 5-10% of 1,000 runs of quick steps.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 20_000
"""Allocations between collections of the youngest generation while runs are driven."""


class _ProcessFreeze:
    """The one freeze of this process, shared by every worker in it."""

    def __init__(self) -> None:
        self.holders: set[int] = set()
        self.ours = False
        """Whether the freeze in force is kflow's (so kflow may undo it)."""
        self.thresholds: tuple[int, int, int] | None = None
        """The collector's thresholds before kflow raised them (None: not raised)."""

    def freeze(self, holder: object) -> None:
        if not self.holders:
            self.ours = gc.get_freeze_count() == 0
            young, *older = gc.get_threshold()
            if self.ours and 0 < young < YOUNG_THRESHOLD:
                self.thresholds = gc.get_threshold()
                gc.set_threshold(YOUNG_THRESHOLD, *older)
        self.holders.add(id(holder))
        if self.ours:
            gc.freeze()

    def thaw(self, holder: object) -> None:
        if id(holder) not in self.holders:
            return
        self.holders.discard(id(holder))
        if not self.holders and self.ours:
            gc.unfreeze()
            self.ours = False
            if self.thresholds is not None and gc.get_threshold()[0] == YOUNG_THRESHOLD:
                gc.set_threshold(*self.thresholds)  # unless the application changed them since
            self.thresholds = None


_PROCESS = _ProcessFreeze()


def freeze(holder: object) -> None:
    """Freeze what exists now, on behalf of `holder` (e.g. a worker that adopted runs)."""
    _PROCESS.freeze(holder)


def thaw(holder: object) -> None:
    """Drop `holder`'s claim; the last one gone undoes kflow's freeze."""
    _PROCESS.thaw(holder)


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Hold off garbage collection inside the block (if it was on, it is on again after)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
