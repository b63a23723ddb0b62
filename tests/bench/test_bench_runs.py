"""`python -m bench --quick` runs every workload and prints a row for each (no timing checks)."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from bench.workloads import REGISTRY


def test_quick_bench_prints_a_row_per_workload(capsys: pytest.CaptureFixture[str]) -> None:
    """A smoke test: tiny sizes, one repetition; every workload gets a row, JSON parses."""
    # Timings are not checked: this only proves the script runs end to end.
    assert main(["--quick", "--repeat", "1", "--no-startup"]) == 0
    out = capsys.readouterr().out
    assert "raw SQLite INSERT+COMMIT" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert [c.strip() for c in rows[0].split("|")[1:-1]] == [
        "workload",
        "action",
        "steps",
        "seconds",
        "ms/step",
        "x commit (NORMAL)",
        "target",
        "measured",
        "met?",
    ]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    assert names == list(REGISTRY)
    assert "- recover: " in out  # the details below the table
    recover = next(row for row in rows if row.startswith("| recover "))
    assert "0 bad runs" in recover

    argv = ["--quick", "--repeat", "1", "--only", "chain", "--json", "--no-startup", "--processes"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in report["workloads"]] == ["chain", "chain-thread", "chain-noop"]
    assert report["workloads"][0]["targets"][0]["metric"] == "x_commit"


def test_every_issue_workload_is_registered_with_a_target() -> None:
    for name in ("chain", "fanout", "many", "timers", "dag-1k", "dag-10k", "start", "recover"):
        assert REGISTRY[name].targets, name


def test_a_dag_row_reports_the_loops_cpu_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    """The same run takes up to twice the CPU in the VM's slow phases: the row says how much."""
    assert main(["--quick", "--repeat", "1", "--only", "dag-1k", "--json", "--no-startup"]) == 0
    (dag,) = [w for w in json.loads(capsys.readouterr().out)["workloads"] if w["name"] == "dag-1k"]
    assert 0 < dag["metrics"]["loop_cpu_us"] < 100_000
    assert main(["--quick", "--repeat", "1", "--only", "dag-1k", "--no-startup"]) == 0
    assert "the loop's CPU " in capsys.readouterr().out
