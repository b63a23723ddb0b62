"""`python -m bench --quick` runs every workload and prints a row for each (no timing checks)."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from bench.workloads import REGISTRY


def test_quick_bench_prints_a_row_per_workload(capsys: pytest.CaptureFixture[str]) -> None:
    """A smoke test: tiny sizes, one repetition; every workload gets a row, JSON parses."""
    # Timings are not checked: this only proves the script runs end to end.
    assert main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "raw SQLite INSERT+COMMIT" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    assert names == list(REGISTRY)

    argv = ["--quick", "--repeat", "1", "--only", "chain", "--json", "--no-startup", "--processes"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in report["workloads"]] == ["chain", "chain-noop"]
    assert report["workloads"][0]["target"]["metric"] == "ms_per_step"
