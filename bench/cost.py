"""The loop's work per step, on a clock that never waits: figures that hold on a noisy VM.

`python -m bench.cost` executes the science DAG (`bench.dags`) on an event loop whose
clock jumps to the next timer instead of waiting for it (`VirtualLoop`). The run then
follows the list schedule without overhead (the same on every run and machine, as
`bench.schedule.simulate` has it), and all it costs is kflow's own work. Its CPU seconds
still move with the VM, as every timing here does; the number of Python bytecodes the loop
executes (`--opcodes`, counted with `sys.settrace`, ~10x slower) does not: compare that
before and after a change to the hot path, then confirm on `python -m bench` that the
makespan moved too.

With `--clock cpu` the clock also runs with the loop thread's CPU time (`CpuClockLoop`):
kflow's work then delays what comes after it, as on a machine that wakes at once and has no
other load, and the makespan is what kflow's own work makes of the schedule. On this VM it
lands where real runs do (`dag-10k` in `normal`: ~1.042x at 0.8 s of loop CPU), but it
still moves with the CPU time a step takes, which the VM's phase can double: compare runs
by the makespan at the same loop CPU, never by the makespan alone.

Durability `normal` only: in `full` the writer thread's commits take real time, which
neither clock waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import selectors
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from bench.dags import science
from bench.jobs import check, fresh_engine
from kflow.plan import Plan, compile_plan
from kflow.runtime import Service
from kflow.spec.models import StepSpec, WorkflowSpec

_START = 1000.0
"""Where the virtual clock starts (any value; asyncio only compares its readings)."""


class _JumpingSelector(selectors.EpollSelector):
    """An epoll selector that, asked to wait, moves its loop's clock on instead."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Poll for I/O; a timed wait passes at once on the loop's clock."""
        if timeout is not None and timeout > 0:
            self._loop.now += timeout
            timeout = 0
        return super().select(timeout)


class VirtualLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a virtual clock: time passes only while the loop would wait."""

    def __init__(self) -> None:
        self.now = _START
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        """The virtual clock's reading."""
        return self.now


class CpuClockLoop(VirtualLoop):
    """A virtual loop whose clock also runs while its thread computes: waits pass at once,
    kflow's work takes the CPU time it takes."""

    def time(self) -> float:
        """The waits skipped so far plus the thread's CPU time."""
        return self.now + time.thread_time()


CLOCKS: dict[str, type[VirtualLoop]] = {"jump": VirtualLoop, "cpu": CpuClockLoop}
"""The clocks `measure` runs on, by name."""


@dataclass
class OpcodeCount:
    """Python bytecodes executed, in all and by function, while counting."""

    total: int = 0
    by_function: collections.Counter[str] = field(default_factory=collections.Counter)

    def _trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return self._count

    def _count(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.total += 1
            code = frame.f_code
            self.by_function[f"{Path(code.co_filename).name}:{code.co_qualname}"] += 1
        return self._count

    def start(self) -> None:
        """Count from now, in this thread."""
        sys.settrace(self._trace)

    def stop(self) -> None:
        """Stop counting."""
        sys.settrace(None)


@dataclass(frozen=True)
class Cost:
    """One run of the DAG in virtual time."""

    steps: int
    virtual_seconds: float
    cpu_seconds: float
    opcodes: OpcodeCount | None


async def _execute(service: Service, plan: Plan, opcodes: OpcodeCount | None) -> Cost:
    (run_id,) = await service.create_many(plan, [{}])
    loop = asyncio.get_running_loop()
    began, cpu = loop.time(), time.thread_time()
    if opcodes is not None:
        opcodes.start()
    try:
        check(await service.execute([run_id]))
    finally:
        if opcodes is not None:
            opcodes.stop()
    return Cost(len(plan.order), loop.time() - began, time.thread_time() - cpu, opcodes)


def measure(
    steps: int, slots: int, directory: Path, *, opcodes: bool = False, clock: str = "jump"
) -> Cost:
    """Execute the science DAG of about `steps` steps on `slots` slots in virtual time,
    on one of the `CLOCKS`."""
    dag = science(steps)
    # As `bench.makespan` does, for a spec model that takes estimates.
    spec = dag.spec(slots, "estimate" in StepSpec.model_fields)
    plan = compile_plan(WorkflowSpec.model_validate(spec))
    # The stall watch reads the real clock, which a counted run makes ~10x slower than
    # the virtual one: it would report the loop as blocked.
    stall_log = logging.getLogger("kflow.runtime.stall")
    level = stall_log.level
    stall_log.setLevel(logging.ERROR)
    try:
        with (
            fresh_engine(directory / "cost.db", "normal") as engine,
            asyncio.Runner(loop_factory=CLOCKS[clock]) as runner,
        ):
            count = OpcodeCount() if opcodes else None
            return runner.run(_execute(engine.service, plan, count))
    finally:
        stall_log.setLevel(level)


def report(costs: Sequence[Cost], bound: float, top: int, clock: str = "jump") -> list[str]:
    """The lines `main` prints for runs of one DAG on `clock`."""
    first = costs[0]
    timed = [c.cpu_seconds for c in costs if c.opcodes is None]
    if clock == "cpu":
        runs = ", ".join(
            f"{c.virtual_seconds / bound:.4f}x at {c.cpu_seconds:.3f} s"
            for c in costs
            if c.opcodes is None
        )
        lines = [f"{first.steps:,} steps on the loop's CPU clock: makespan {runs} of loop CPU"]
    else:
        lines = [
            f"{first.steps:,} steps in virtual time: makespan "
            f"{first.virtual_seconds / bound:.4f}x the bound (the list schedule without overhead)"
        ]
    if timed:
        cpu = statistics.median(timed)
        lines.append(
            f"loop CPU {cpu:.3f} s, {cpu / first.steps * 1e6:.1f} us per step "
            f"(median of {len(timed)}; it moves with the VM)"
        )
    counted = [c.opcodes for c in costs if c.opcodes is not None]
    if counted:
        count = counted[0]
        lines.append(f"Python bytecodes {count.total / first.steps:,.1f} per step (steady)")
        for name, n in count.by_function.most_common(top):
            lines.append(f"  {n / first.steps:8.1f}  {name}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the loop's CPU (and with `--opcodes`, its bytecodes) per step of the DAG."""
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=main.__doc__)
    parser.add_argument("--steps", type=int, default=10_000, help="about this many steps")
    parser.add_argument("--slots", type=int, default=64, help="steps running at once")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--opcodes", action="store_true", help="count bytecodes (last run)")
    parser.add_argument("--top", type=int, default=25, help="functions listed with --opcodes")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="jump",
        help="jump: waits pass at once, work takes no time; cpu: work takes its CPU time",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kflow-cost-") as directory:
        where = Path(directory)
        costs = [
            measure(args.steps, args.slots, where, clock=args.clock) for _ in range(args.repeat)
        ]
        if args.opcodes:  # counted on the jumping clock: counting costs ~10x the CPU
            costs.append(measure(args.steps, args.slots, where, opcodes=True))
    bound = science(args.steps).lower_bound(args.slots)
    print("\n".join(report(costs, bound, args.top, args.clock)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
