"""The loop's work per step in virtual time (`bench.cost`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cost, schedule
from bench.dags import science

pytestmark = pytest.mark.timeout(120)


def test_in_virtual_time_a_dag_follows_the_list_schedule_without_overhead(
    tmp_path: Path,
) -> None:
    dag = science(400)
    measured = cost.measure(400, 8, tmp_path)
    simulated = schedule.simulate(dag, 8, schedule.kflow_keys(dag))
    # kflow's own work takes no time on the virtual clock: every start, result and commit
    # lands where a scheduler without overhead puts it.
    assert measured.virtual_seconds == pytest.approx(simulated, rel=1e-9)
    assert measured.steps == len(dag.tasks)
    assert measured.opcodes is None
    assert measured.cpu_seconds > 0


def test_the_bytecodes_counted_are_those_of_the_run_and_steady(tmp_path: Path) -> None:
    first = cost.measure(200, 8, tmp_path, opcodes=True)
    second = cost.measure(200, 8, tmp_path, opcodes=True)
    assert first.opcodes is not None and second.opcodes is not None
    per_step = first.opcodes.total / first.steps
    assert 100 < per_step < 100_000
    assert abs(first.opcodes.total - second.opcodes.total) < 0.02 * first.opcodes.total
    names = dict(first.opcodes.by_function)
    assert any(name.endswith("RunDriver._timer_fired") for name in names)
    assert any(name.endswith("RunMachine.decide") for name in names)


def test_the_report_gives_the_schedule_the_cpu_and_the_busiest_functions(
    tmp_path: Path,
) -> None:
    dag = science(200)
    costs = [cost.measure(200, 8, tmp_path), cost.measure(200, 8, tmp_path, opcodes=True)]
    lines = cost.report(costs, dag.lower_bound(8), top=3)
    assert lines[0].startswith(f"{len(dag.tasks):,} steps in virtual time: makespan ")
    assert "us per step (median of 1;" in lines[1]
    assert lines[2].startswith("Python bytecodes ") and lines[2].endswith(" per step (steady)")
    assert len(lines) == 6


def test_on_the_cpu_clock_kflows_own_work_delays_the_schedule(tmp_path: Path) -> None:
    dag = science(200)
    simulated = schedule.simulate(dag, 8, schedule.kflow_keys(dag))
    measured = cost.measure(200, 8, tmp_path, clock="cpu")
    # Each result is handled after the CPU time it takes, so the run leaves the schedule
    # without overhead (which the jumping clock matches to 1e-9), by about that CPU time.
    assert measured.virtual_seconds != pytest.approx(simulated, rel=1e-6)
    assert 0.9 * simulated < measured.virtual_seconds < simulated + measured.cpu_seconds + 0.2
    (line, _) = cost.report([measured], dag.lower_bound(8), top=0, clock="cpu")
    assert line.startswith(f"{len(dag.tasks):,} steps on the loop's CPU clock: makespan ")
    assert line.endswith(" of loop CPU")
