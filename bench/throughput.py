"""Throughput workloads: a long chain, a wide fan-out and many concurrent runs.

Each comes as `py fn` (a trivial sync Python function: kflow runs it in worker threads
until it has proved quick, then on the event loop), `py fn thread` (the same function
marked `@kflow.in_thread`: the cost of the hop a blocking function needs) and `noop`
(the built-in, run on the event loop). The wall time covers creating the runs and executing
them; validating the spec and opening the store are not in it.
"""

from __future__ import annotations

from bench.jobs import Job, job_trial
from bench.metrics import Target
from bench.registry import workload
from bench.shapes import chain_spec, fanout_spec

PY_STEP = "bench.steps:trivial"
"""The trivial sync Python function the `py fn` workloads run at every step."""
THREAD_STEP = "bench.steps:trivial_in_thread"
"""The same function, kept in worker threads (`py fn thread`)."""

CHAIN = Target("x_commit", 10.0)
"""Issue 4: a durable step of a sequential chain costs at most 10 raw commits."""
FANOUT = Target("ms_per_step", 0.1)
"""Issue 4: 1 -> 5,000 -> 1 at most 0.1 ms per step."""
MANY = Target("steps_per_s", 10_000.0, higher_is_better=True)
"""Issue 4: 1,000 concurrent runs of 5 steps at 10,000 steps per second or more."""


@workload("chain", "py fn", CHAIN)
@job_trial
def chain(quick: bool) -> Job:
    """A sequential chain of 200 trivial steps."""
    return Job(chain_spec(20 if quick else 200, PY_STEP))


@workload("chain-thread", "py fn thread")
@job_trial
def chain_thread(quick: bool) -> Job:
    """A sequential chain of 200 trivial steps that always run in worker threads."""
    return Job(chain_spec(20 if quick else 200, THREAD_STEP))


@workload("chain-noop", "noop", CHAIN)
@job_trial
def chain_noop(quick: bool) -> Job:
    """A sequential chain of 200 built-in `noop` steps."""
    return Job(chain_spec(20 if quick else 200, "noop"))


@workload("fanout", "py fn", FANOUT)
@job_trial
def fanout(quick: bool) -> Job:
    """Fan-out 1 -> 5,000 -> 1 of trivial steps (8 at a time, the engine's default)."""
    return Job(fanout_spec(50 if quick else 5000, PY_STEP))


@workload("fanout-thread", "py fn thread")
@job_trial
def fanout_thread(quick: bool) -> Job:
    """Fan-out 1 -> 5,000 -> 1 of trivial steps in worker threads (8 at a time)."""
    return Job(fanout_spec(50 if quick else 5000, THREAD_STEP))


@workload("fanout-noop", "noop", FANOUT)
@job_trial
def fanout_noop(quick: bool) -> Job:
    """Fan-out 1 -> 5,000 -> 1 of built-in `noop` steps (8 at a time)."""
    return Job(fanout_spec(50 if quick else 5000, "noop"))


@workload("fanout-500", "py fn")
@job_trial
def fanout_500(quick: bool) -> Job:
    """Fan-out 1 -> 500 -> 1 of trivial steps (8 at a time): the size the peers ran."""
    return Job(fanout_spec(20 if quick else 500, PY_STEP))


@workload("fanout-500-noop", "noop")
@job_trial
def fanout_500_noop(quick: bool) -> Job:
    """Fan-out 1 -> 500 -> 1 of built-in `noop` steps (8 at a time)."""
    return Job(fanout_spec(20 if quick else 500, "noop"))


@workload("many", "py fn", MANY)
@job_trial
def many(quick: bool) -> Job:
    """1,000 runs of a 5-step chain, created in one transaction, executed by one worker."""
    return Job(chain_spec(5, PY_STEP), runs=20 if quick else 1000)


@workload("many-thread", "py fn thread")
@job_trial
def many_thread(quick: bool) -> Job:
    """1,000 runs of a 5-step chain of trivial steps in worker threads."""
    return Job(chain_spec(5, THREAD_STEP), runs=20 if quick else 1000)


@workload("many-noop", "noop", MANY)
@job_trial
def many_noop(quick: bool) -> Job:
    """1,000 runs of a 5-step `noop` chain, created in one transaction, executed together."""
    return Job(chain_spec(5, "noop"), runs=20 if quick else 1000)
