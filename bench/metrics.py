"""What a benchmark measures: named metrics, their units, and targets on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Metric = Literal[
    "ms_per_step",
    "x_commit",
    "steps_per_s",
    "x_bound",
    "rss_mib",
    "decide_p99_ms",
    "start_ms",
    "start_all_s",
    "bad_runs",
]
"""Metrics a target can be set on. Workloads may report other values as notes."""

_FORMATS: dict[str, str] = {
    "ms_per_step": "{:.3f} ms/step",
    "x_commit": "{:.1f}x commit",
    "steps_per_s": "{:,.0f} steps/s",
    "x_bound": "{:.3f}x bound",
    "rss_mib": "{:,.0f} MiB RSS",
    "rss_before_mib": "{:,.0f} MiB before",
    "decide_p50_ms": "{:.4f} ms decide p50",
    "decide_p99_ms": "{:.3f} ms decide p99",
    "decide_max_ms": "{:.2f} ms decide max",
    "decides": "{:,.0f} decides",
    "start_ms": "{:.2f} ms",
    "start_min_ms": "min {:.2f} ms",
    "start_max_ms": "max {:.2f} ms",
    "start_all_s": "{:.3f} s to start all",
    "bad_runs": "{:.0f} bad runs",
    "lower_bound_s": "lower bound {:.3f} s",
    "critical_path_s": "critical path {:.3f} s",
    "work_per_slot_s": "work/slots {:.3f} s",
    "compile_s": "compile {:.3f} s",
    "create_s": "create {:.3f} s",
    "sim_kflow_x": "simulated with kflow's priority {:.3f}x",
    "sim_steps_x": "with steps-to-sink {:.3f}x",
    "sim_seconds_x": "with seconds-to-sink {:.3f}x",
    "start_shared_ms": "with one Service for all starts {:.2f} ms",
    "asyncio_x": "bare asyncio {:.3f}x",
    "late_slot_s": "timers late by {:.2f} slot-s in all",
    "late_p50_ms": "timers late p50 {:.2f} ms",
    "late_p99_ms": "timers late p99 {:.2f} ms",
    "parse_ms": "load_plan {:.2f} ms",
    "run_ms": "run to first start {:.2f} ms",
    "peak_waiting": "{:,.0f} waiting at once",
    "recovered": "{:,.0f} runs recovered",
    "finish_s": "all finished after {:.3f} s",
    "first_step_ms": "first step after {:.2f} ms",
    "late_x": "excess over the bound: timers late {:.4f}x",
    "idle_ready_x": "slots idle while a step was ready {:.4f}x",
    "idle_none_x": "slots idle with none ready {:.4f}x",
    "end_ms": "last result to the end {:.2f} ms",
    "loop_cpu_us": "the loop's CPU {:.0f} us per step",
    "steal_ms": "CPU time the hypervisor took meanwhile {:.0f} ms (both CPUs)",
}
"""How each value is printed, with its unit."""


_TARGET_UNITS: dict[Metric, str] = {
    "ms_per_step": " ms/step",
    "x_commit": "x commit",
    "steps_per_s": " steps/s",
    "x_bound": "x bound",
    "rss_mib": " MiB RSS",
    "decide_p99_ms": " ms decide p99",
    "start_ms": " ms",
    "start_all_s": " s to start all",
    "bad_runs": " bad runs",
}


def format_value(name: str, value: float) -> str:
    """A value with its unit, e.g. `0.153 ms/step` or `1.031x bound`."""
    return _FORMATS.get(name, name + " {:g}").format(value)


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on one metric of a workload's result, e.g. `ms_per_step <= 0.1`."""

    metric: Metric
    limit: float
    higher_is_better: bool = False
    strict: bool = False
    """`<` (or `>`) rather than `<=` (or `>=`)."""

    def describe(self) -> str:
        """The target as people read it, e.g. `<= 0.1 ms/step` or `< 1 ms decide p99`."""
        op = (
            (">" if self.strict else ">=")
            if self.higher_is_better
            else "<"
            if self.strict
            else "<="
        )
        return f"{op} {self.limit:,g}{_TARGET_UNITS[self.metric]}"

    def met(self, value: float) -> bool:
        """Whether `value` of the metric meets the target."""
        if self.higher_is_better:
            return value > self.limit if self.strict else value >= self.limit
        return value < self.limit if self.strict else value <= self.limit
