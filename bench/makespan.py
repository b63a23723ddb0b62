"""Makespan workloads: sleeping steps on a fixed number of slots, against the lower bound.

The lower bound is max(critical path, total work / slots) in seconds: no scheduler can
beat it. `sleepy` is the small layered DAG the peers ran; `dag-1k` and `dag-10k` are
scientific-workflow DAGs from `bench.dags` (a Montage and an Epigenomics side by side).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.dags import Dag, science
from bench.jobs import Job, check, fresh_engine, job_trial
from bench.metrics import Target
from bench.probes import StepTimes, stolen_seconds
from bench.reference import asyncio_makespan
from bench.registry import Sample, Trial, workload
from bench.schedule import kflow_keys, simulated
from bench.shapes import layers_spec
from bench.slots import SlotAccount
from kflow.plan import Plan, compile_plan
from kflow.runtime import Service, loop
from kflow.spec.models import StepSpec, WorkflowSpec
from kflow.store.sqlite import Durability

DAG_TARGET = Target("x_bound", 1.05)
"""Issue 4: makespan within 1.05x of max(critical path, total work / slots)."""
QUICK_DAG_STEPS, QUICK_DAG_SLOTS = 100, 16


@workload("sleepy", "sleep", Target("x_bound", 1.10), sleeps=True)
@job_trial
def sleepy(quick: bool) -> Job:
    """10 layers x 4 steps that each sleep 50 ms, 4 slots: makespan vs the bound 0.5 s."""
    layers, seconds = (3, 0.01) if quick else (10, 0.05)
    spec = layers_spec(layers, 4, "sleep", seconds=seconds)
    return Job(spec, max_concurrency=4, lower_bound=layers * seconds)


_REFERENCES: dict[tuple[int, int, float], dict[str, float]] = {}
"""Reference makespans per (steps, slots, scale), as multiples of the bound: once a process."""


def _references(dag: Dag, slots: int, spec: WorkflowSpec, bare: bool) -> dict[str, float]:
    """What a perfect engine would get (simulated), and what bare asyncio gets (if `bare`)."""
    keys = kflow_keys(dag, spec)
    found = simulated(dag, slots, keys=keys)
    if bare:
        seconds = asyncio_makespan(dag, slots, keys)
        found["asyncio_x"] = seconds / dag.lower_bound(slots)
    return found


def dag_trial(steps: int, slots: int, summary: str, scale: float = 1.0) -> Trial:
    """A trial of `science(steps, scale=scale)` on `slots` slots: compile, create, execute.

    Only `execute` is in the makespan. Slots are chosen so that each gets ~150 tasks: then
    a list scheduler without any overhead lands at ~1.03x of the bound (`bench.schedule`).
    The run on bare asyncio (`bench.reference`) is made once per process, for `scale` 1.
    """

    def trial(db: Path, durability: Durability, quick: bool) -> Sample:
        size, width, factor = (
            (QUICK_DAG_STEPS, QUICK_DAG_SLOTS, 1.0)
            if quick
            else (
                steps,
                slots,
                scale,
            )
        )
        dag = science(size, scale=factor)
        start = time.perf_counter()
        spec = WorkflowSpec.model_validate(dag.spec(width, "estimate" in StepSpec.model_fields))
        plan = compile_plan(spec)
        compile_s = time.perf_counter() - start
        with fresh_engine(db, durability) as engine:
            run = loop.run(_create_then_execute(engine.service, plan))
            events = engine.service.store.read(run.run_id)
        makespan = run.makespan
        timers = StepTimes.from_journal(events)
        idle = SlotAccount.from_journal(events, dag, width, run.began, run.began + makespan)
        key = (size, width, factor)
        if key not in _REFERENCES:
            _REFERENCES[key] = _references(dag, width, spec, bare=factor == 1.0)
        bound = dag.lower_bound(width)
        values = {
            **_bounds(dag, width, makespan),
            "compile_s": compile_s,
            "create_s": run.create_s,
            **_REFERENCES[key],
            **timers.summary(run.began),
            "late_x": sum(timers.late) / (width * bound),
            **idle.summary(width, bound),
            # The makespan rises with the loop's work per step, and the same work takes up
            # to twice the CPU time in the VM's slow phases: this tells a slow VM apart.
            "loop_cpu_us": run.loop_cpu_s / len(dag.tasks) * 1e6,
        }
        if run.steal_s is not None:  # a run the VM took CPU time from is slower for it
            values["steal_ms"] = run.steal_s * 1000
        return Sample(makespan, len(dag.tasks), 1, values)

    trial.__doc__ = summary
    return trial


def _bounds(dag: Dag, slots: int, makespan: float) -> dict[str, float]:
    bound = dag.lower_bound(slots)
    return {
        "x_bound": makespan / bound,
        "lower_bound_s": bound,
        "critical_path_s": dag.critical_path,
        "work_per_slot_s": dag.work / slots,
    }


@dataclass(frozen=True)
class _Execution:
    """One run of a DAG, created then executed."""

    run_id: str
    began: float
    """When `execute` began (a `time.time()`, as the journal's times are)."""
    create_s: float
    makespan: float
    """Seconds from the start to the end of `execute`."""
    loop_cpu_s: float
    """CPU seconds of the event loop's thread during `execute`."""
    steal_s: float | None
    """CPU seconds the hypervisor took meanwhile (None where the machine does not say)."""


async def _create_then_execute(service: Service, plan: Plan) -> _Execution:
    """Create one run of `plan`, then execute it, timing both."""
    start = time.perf_counter()
    (run_id,) = await service.create_many(plan, [{}])
    created, began, stolen = time.perf_counter(), time.time(), stolen_seconds()
    cpu = time.thread_time()
    results = await service.execute([run_id])
    loop_cpu = time.thread_time() - cpu
    ended, stolen_after = time.perf_counter(), stolen_seconds()
    check(results)
    steal = None if stolen is None or stolen_after is None else stolen_after - stolen
    return _Execution(run_id, began, created - start, ended - created, loop_cpu, steal)


dag_1k = workload("dag-1k", "sleep", DAG_TARGET, sleeps=True)(
    dag_trial(1000, 8, "A ~1,000-step Montage + Epigenomics DAG of 5-40 ms sleeps on 8 slots.")
)
dag_10k = workload("dag-10k", "sleep", DAG_TARGET, sleeps=True)(
    dag_trial(10_000, 64, "A ~10,000-step Montage + Epigenomics DAG of 5-40 ms sleeps, 64 slots.")
)
dag_10k_x10 = workload("dag-10k-x10", "sleep", DAG_TARGET, sleeps=True, max_repeat=1)(
    dag_trial(
        10_000,
        64,
        "The same 10,000-step DAG with every sleep 10x longer (50-400 ms), 64 slots.",
        scale=10.0,
    )
)
