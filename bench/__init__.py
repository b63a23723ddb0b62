"""kflow's benchmarks: `python -m bench` runs the workloads and prints a table."""

from __future__ import annotations
