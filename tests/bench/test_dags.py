"""The DAG generator, the schedule simulator and the probes of the benchmark."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.dags import Dag, Task, epigenomics, montage, overlapping_pairs, science
from bench.jobs import fresh_engine
from bench.metrics import Target
from bench.probes import StepTimes, peak_rss_mib, timing_decide
from bench.schedule import kflow_keys, seconds_keys, simulate, simulate_serial
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.plan import compile_plan
from kflow.runtime import loop
from kflow.spec.models import WorkflowSpec


@pytest.mark.parametrize("steps", [100, 1000, 10_000])
def test_science_dags_reach_their_size_and_compile(steps: int) -> None:
    dag = science(steps)
    assert steps <= len(dag.tasks) <= steps * 1.1
    if steps <= 1000:  # compiling 10,000 steps takes a while; the size is what matters
        plan = compile_plan(WorkflowSpec.model_validate(dag.spec(8)))
        assert len(plan.steps) == len(dag.tasks)
        assert plan.max_concurrency == 8


def test_dags_are_deterministic_and_seeded() -> None:
    assert science(500) == science(500)
    assert science(500, seed=1) != science(500)
    durations = {t.seconds for t in science(500).tasks}
    assert min(durations) >= 0.005 * 0.75 and max(durations) <= 0.040 * 1.25


def test_montage_shape() -> None:
    tasks = {t.id: t for t in montage(4)}  # a 2 x 2 grid: 3 + 1 + 1 overlapping pairs
    assert overlapping_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    assert set(tasks["mConcatFit"].deps) == {f"mDiffFit_{i}_{j}" for i, j in overlapping_pairs(4)}
    assert tasks["mBackground_2"].deps == ("mBgModel", "mProject_2")
    assert tasks["mJPEG"].deps == ("mShrink",)


def test_epigenomics_shape() -> None:
    tasks = {t.id: t for t in epigenomics(2, 3)}
    assert len(tasks) == 2 * (1 + 3 * 4 + 1) + 3
    assert tasks["map_1_2"].deps == ("fastq2bfq_1_2",)
    assert tasks["filterContams_1_2"].deps == ("fastqSplit_1",)
    assert tasks["mapMerge_all"].deps == ("mapMerge_0", "mapMerge_1")
    assert tasks["pileup"].deps == ("maqIndex",)


def test_lower_bound_and_simulation() -> None:
    dag = Dag(
        "d",
        [Task("a", "k", 1.0), Task("b", "k", 1.0), Task("c", "k", 2.0, ("a",))],
    )
    assert dag.critical_path == 3.0 and dag.work == 4.0
    assert dag.lower_bound(1) == 4.0 and dag.lower_bound(2) == 3.0
    assert simulate(dag, 2, seconds_keys(dag)) == 3.0
    assert simulate(dag, 1, kflow_keys(dag)) == 4.0
    big = science(300)
    assert simulate(big, 8, kflow_keys(big)) >= big.lower_bound(8)


def test_a_serial_cost_per_completion_delays_what_each_completion_frees() -> None:
    dag = Dag(
        "d",
        [Task("a", "k", 1.0), Task("b", "k", 1.0), Task("c", "k", 2.0, ("a",))],
    )
    keys = seconds_keys(dag)
    assert simulate_serial(dag, 2, keys, 0.0) == simulate(dag, 2, keys) == 3.0
    # a and b end together at 1.0 and are handled at 1.1 and 1.2; c (freed by a) starts
    # at 1.1 and ends at 3.1, handled at 3.2.
    assert simulate_serial(dag, 2, keys, 0.1) == pytest.approx(3.2)
    big = science(1000)
    big_keys = kflow_keys(big)
    assert simulate_serial(big, 8, big_keys, 0.0) == pytest.approx(simulate(big, 8, big_keys))


def _two_chains(b_seconds: float) -> Dag:
    """a -> c and b -> d, every task 1 s but b."""
    tasks = [Task("a", "k", 1.0), Task("b", "k", b_seconds)]
    return Dag("d", [*tasks, Task("c", "k", 1.0, ("a",)), Task("d", "k", 1.0, ("b",))])


def test_a_result_readies_its_dependents_when_its_commit_lands() -> None:
    dag = _two_chains(1.2)
    keys = seconds_keys(dag)
    assert simulate_serial(dag, 2, keys, 0.0) == pytest.approx(2.2)
    # a's commit runs 1.0-1.5, so c runs 1.5-2.5; b ends at 1.2 while the writer is busy:
    # its commit runs 1.5-2.0, so d runs 2.0-3.0. c's commit runs 2.5-3.0, d's 3.0-3.5.
    assert simulate_serial(dag, 2, keys, 0.0, commit_seconds=0.5) == pytest.approx(3.5)
    alone = Dag("one", [Task("a", "k", 1.0)])  # the run ends when its last result is stored
    assert simulate_serial(alone, 1, seconds_keys(alone), 0.0, 0.5) == pytest.approx(1.5)
    big = science(1000)
    big_keys = kflow_keys(big)
    quick = simulate_serial(big, 8, big_keys, 0.0)
    assert simulate_serial(big, 8, big_keys, 0.0, commit_seconds=0.002) > quick


def test_results_due_together_share_a_commit() -> None:
    dag = _two_chains(1.0)
    # a and b end at 1.0 and share the commit of 1.0-1.5: c and d run 1.5-2.5, and
    # their results share the commit of 2.5-3.0.
    assert simulate_serial(dag, 2, seconds_keys(dag), 0.0, 0.5) == pytest.approx(3.0)


def test_timing_decide_wraps_and_restores() -> None:
    original = RunMachine.decide
    with timing_decide() as times:
        assert RunMachine.decide is not original
    assert RunMachine.decide is original
    assert times.quantile_ms(0.99) == 0.0
    times.ns.extend(range(1, 101))
    assert times.quantile_ms(0.99) == 99 / 1e6
    assert peak_rss_mib() > 1


def test_targets() -> None:
    assert Target("decide_p99_ms", 1.0, strict=True).describe() == "< 1 ms decide p99"
    assert not Target("decide_p99_ms", 1.0, strict=True).met(1.0)
    assert Target("steps_per_s", 10_000, higher_is_better=True).met(10_000)
    assert Target("rss_mib", 1024).describe() == "<= 1,024 MiB RSS"


def test_step_times_read_the_first_start_and_each_sleeps_lateness_from_the_journal(
    tmp_path: Path,
) -> None:
    spec = WorkflowSpec.model_validate(science(100).spec(16))
    with fresh_engine(tmp_path / "k.db", "normal") as engine:
        began = time.time()
        result = loop.run(engine.service.run(spec))
        steps = StepTimes.from_journal(engine.service.store.read(result.run_id))
    assert result.ok
    assert len(steps.late) == len(spec.steps)
    assert all(0 <= late < 0.5 for late in steps.late)
    summary = steps.summary(began)
    assert 0 < summary["first_step_ms"] < 1000
    assert summary["late_slot_s"] == pytest.approx(sum(steps.late))
    assert summary["late_p50_ms"] <= summary["late_p99_ms"]


def test_step_times_count_how_long_a_sleep_overran() -> None:
    events: list[ev.AnyEvent] = [
        ev.StepStarted(at=100.0, step="a", attempt=1),
        ev.StepStarted(at=100.5, step="b", attempt=1),
        ev.StepSucceeded(at=102.25, step="a", attempt=1, output={"slept": 2.0}),
        ev.StepSucceeded(at=101.0, step="b", attempt=1, output={"result": 1}),
    ]
    steps = StepTimes.from_journal(events)
    assert list(steps.late) == [0.25]  # b is no sleep
    assert steps.summary(99.0)["first_step_ms"] == 1000.0
