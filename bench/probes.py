"""Measuring the bench process: scheduling decisions, step timers (from the journal) and RSS."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import time
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kflow.engine import commands as cmd
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine


class DecideTimes:
    """Durations in nanoseconds, e.g. of every `RunMachine.decide` call while timed."""

    def __init__(self) -> None:
        self.ns = array("q")

    def quantile_ms(self, q: float) -> float:
        """The nearest-rank quantile `q` (0..1) in milliseconds; 0 if nothing was timed."""
        if not self.ns:
            return 0.0
        ordered = sorted(self.ns)
        rank = min(max(math.ceil(q * len(ordered)), 1), len(ordered))
        return ordered[rank - 1] / 1e6

    def summary(self) -> dict[str, float]:
        """p50, p99, max (ms) and the number of calls."""
        return {
            "decide_p50_ms": self.quantile_ms(0.50),
            "decide_p99_ms": self.quantile_ms(0.99),
            "decide_max_ms": self.quantile_ms(1.0),
            "decides": float(len(self.ns)),
        }


@contextmanager
def timing_decide() -> Iterator[DecideTimes]:
    """Wrap `RunMachine.decide` (the class attribute, in this process only) with a timer.

    The original is restored on exit, even if the body raises.
    """
    original = RunMachine.decide
    times = DecideTimes()
    record = times.ns.append
    clock = time.perf_counter_ns

    def timed(self: RunMachine, now: float, durable: int | None = None) -> list[cmd.Command]:
        start = clock()
        try:
            return original(self, now, durable)
        finally:
            record(clock() - start)

    RunMachine.decide = timed  # type: ignore[method-assign]
    try:
        yield times
    finally:
        RunMachine.decide = original  # type: ignore[method-assign]


class StepTimes:
    """When the first step of a run started, and how late each `sleep` step ended."""

    def __init__(self) -> None:
        self.first_start: float | None = None
        """The first step's start (`time.time()`, as the journal has it)."""
        self.late = array("d")
        """Seconds each sleep lasted beyond the seconds it slept for."""

    @classmethod
    def from_journal(cls, events: Iterable[ev.AnyEvent]) -> StepTimes:
        """Read from a finished run's events: nothing is timed while the run goes on.

        A sleep's end is recorded a few microseconds after its timer fires, so the
        lateness is the timer's, within that. A timer that fires late keeps its slot from
        the next step: on a DAG of short sleeps the lateness, summed over every step, is
        most of the makespan's excess over the bound that the DAG's shape does not explain.
        """
        times = cls()
        started: dict[tuple[str, int | None], float] = {}
        for event in events:
            if isinstance(event, ev.StepStarted):
                started[(event.step, event.index)] = event.at
                if times.first_start is None:
                    times.first_start = event.at
            elif isinstance(event, ev.StepSucceeded) and "slept" in event.output:
                began = started[(event.step, event.index)]
                times.late.append(max(event.at - began - event.output["slept"], 0.0))
        return times

    def summary(self, began: float) -> dict[str, float]:
        """First start after `began` (a `time.time()`), and the sleeps' lateness."""
        late = sorted(self.late)
        values = {"late_slot_s": sum(late)}
        if late:
            values["late_p50_ms"] = late[len(late) // 2] * 1000
            values["late_p99_ms"] = late[min(len(late) - 1, int(len(late) * 0.99))] * 1000
        if self.first_start is not None:
            values["first_step_ms"] = (self.first_start - began) * 1000
        return values


_STATUS = Path("/proc/self/status")


def reset_peak_rss() -> None:
    """Reset this process's peak RSS to its current RSS, where Linux allows it."""
    # Not Linux, or not allowed: the peak then covers the whole process.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM) in MiB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    """This process's resident set size now (VmRSS) in MiB; 0 where /proc is missing."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


_PROC_STAT = Path("/proc/stat")


def stolen_seconds() -> float | None:
    """CPU seconds the hypervisor has taken from this machine's CPUs so far, all together
    (the `steal` column of /proc/stat); None where there is no such column."""
    try:
        fields = _PROC_STAT.read_text().split("\n", 1)[0].split()
        ticks = int(fields[8])
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")
