"""`start`: parse + validate + start the seeds' research-and-summarize example, in-process.

One repetition loads `examples/research-and-summarize.yaml` with `load_plan` and runs it
with `Service.run` until the first step's `StepStarted` is committed (an observer sees
it); then the run's execution is cancelled. The config
(`examples/kflow.toml`) is loaded once, outside the timing. After one warm-up, the median
of many repetitions in this process is reported, each with a new `Service`; the same with
one `Service` for all repetitions is shown as a detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from pathlib import Path
from typing import Any

from bench import REPO
from bench.jobs import fresh_engine
from bench.metrics import Target
from bench.registry import Sample, workload
from kflow.actions import KflowConfig, load_config
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.plan import load_plan
from kflow.runtime import Service, loop
from kflow.store.protocol import JournalStore
from kflow.store.sqlite import Durability

EXAMPLES = REPO / "examples"
WORKFLOW = EXAMPLES / "research-and-summarize.yaml"
INPUTS = {"topic": "durable workflow engines"}
REPETITIONS, QUICK_REPETITIONS = 50, 5


@workload("start", "agents", Target("start_ms", 5.0, strict=True))
def start(db: Path, durability: Durability, quick: bool) -> Sample:
    """Parse + validate + start research-and-summarize, until its first step has started."""
    config = load_config(EXAMPLES / "kflow.toml")
    repetitions = QUICK_REPETITIONS if quick else REPETITIONS
    with fresh_engine(db, durability) as engine:
        store = engine.service.store
        phases = loop.run(_repeat(store, config, 1 + repetitions, shared=False))[1:]
        shared = loop.run(_repeat(store, config, 1 + repetitions, shared=True))[1:]
    times = [sum(p) for p in phases]
    median = statistics.median(times)
    values = {
        "start_ms": median * 1000,
        "start_min_ms": min(times) * 1000,
        "start_max_ms": max(times) * 1000,
    }
    for i, name in enumerate(("parse_ms", "run_ms")):
        values[name] = statistics.median(p[i] for p in phases) * 1000
    values["start_shared_ms"] = statistics.median(sum(p) for p in shared) * 1000
    return Sample(median, 1, repetitions, values)


async def _repeat(
    store: JournalStore, config: KflowConfig, times: int, *, shared: bool
) -> list[tuple[float, float]]:
    """Start the workflow `times` times: each with a new `Service`, or all with one.

    A new `Service` (as `kflow run` has) resolves the agents afresh: its first step reads
    the installed packages' entry points. One shared `Service` (a long-lived process)
    does that once.
    """
    service = Service(store, config) if shared else None
    return [await _start_once(store, config, service) for _ in range(times)]


async def _start_once(
    store: JournalStore, config: KflowConfig, shared: Service | None
) -> tuple[float, float]:
    """Seconds to load the YAML, and from there until the run's first step has started.

    "Started" means the first `StepStarted` is committed (seen by an observer), and
    with it the run's creation.
    """
    loop = asyncio.get_running_loop()
    started: asyncio.Future[float] = loop.create_future()

    def observe(machine: RunMachine, event: ev.AnyEvent) -> None:
        if isinstance(event, ev.StepStarted) and not started.done():
            started.set_result(time.perf_counter())

    begin = time.perf_counter()
    service = shared or Service(store, config)
    plan = load_plan(WORKFLOW)
    loaded = time.perf_counter()
    execution = loop.create_task(service.run(plan, INPUTS, observers=[observe]))
    waited: set[asyncio.Future[Any]] = {started, execution}
    await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
    execution.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await execution
    if not started.done():
        raise RuntimeError("the run ended without starting a step")
    return loaded - begin, started.result() - loaded
