"""`timers`: 10,000 runs in one process, each waiting on a timer at the same time.

Each run is one built-in `sleep` step. The trial reports the process's peak RSS and the
latency of every scheduling decision (`RunMachine.decide`) made while the runs were created,
adopted, woken and finished. It always runs in a new interpreter, so the peak is its own.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.jobs import check, fresh_engine
from bench.metrics import Target
from bench.probes import DecideTimes, current_rss_mib, peak_rss_mib, reset_peak_rss, timing_decide
from bench.registry import Sample, workload
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.runtime import Service, loop
from kflow.spec.models import WorkflowSpec
from kflow.store.sqlite import Durability

RUNS, SLEEP_SECONDS = 10_000, 3.0
QUICK_RUNS, QUICK_SLEEP_SECONDS = 200, 0.2


class Waiting:
    """Counts runs whose step has started (committed) and not yet finished; times lateness."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.now = 0
        self.peak = 0
        self.late = DecideTimes()
        """How much longer than `seconds` each step took, from its start to its result."""

    def observe(self, machine: RunMachine, event: ev.AnyEvent) -> None:
        """An observer for `Service.execute`."""
        if isinstance(event, ev.StepStarted):
            self.now += 1
            self.peak = max(self.peak, self.now)
        elif isinstance(event, ev.StepSucceeded | ev.StepFailed):
            self.now -= 1
            started = machine.task(event.step, event.index).started_at or event.at
            self.late.ns.append(int((event.at - started - self.seconds) * 1e9))


def timer_spec(seconds: float) -> WorkflowSpec:
    """One step: the built-in `sleep` for `seconds`."""
    step = {"id": "wait", "action": "sleep", "inputs": {"seconds": seconds}}
    return WorkflowSpec.model_validate({"id": "timer", "steps": [step]})


@workload(
    "timers",
    "sleep",
    Target("rss_mib", 1024.0),
    Target("decide_p99_ms", 1.0, strict=True),
    sleeps=True,
    isolated=True,
)
def timers(db: Path, durability: Durability, quick: bool) -> Sample:
    """10,000 runs in one process, each one `sleep` step of 3 s, all waiting at once."""
    runs, seconds = (QUICK_RUNS, QUICK_SLEEP_SECONDS) if quick else (RUNS, SLEEP_SECONDS)
    spec = timer_spec(seconds)
    waiting = Waiting(seconds)
    with fresh_engine(db, durability) as engine:
        before = current_rss_mib()
        reset_peak_rss()
        with timing_decide() as decisions:
            elapsed = loop.run(_run(engine.service, spec, runs, waiting))
        peak = peak_rss_mib()
    values = {
        "rss_mib": peak,
        "rss_before_mib": before,
        "peak_waiting": float(waiting.peak),
        "late_p50_ms": waiting.late.quantile_ms(0.5),
        "late_p99_ms": waiting.late.quantile_ms(0.99),
        **decisions.summary(),
    }
    return Sample(elapsed, runs, runs, values)


async def _run(service: Service, spec: WorkflowSpec, runs: int, waiting: Waiting) -> float:
    start = time.perf_counter()
    results = await service.run_many(spec, [{}] * runs, observers=[waiting.observe])
    elapsed = time.perf_counter() - start
    check(results)
    return elapsed
