"""Benchmarks of kflow on the embedded SQLite store: `python -m bench`."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
"""The repository's root: subprocesses run here so `bench.steps` is importable."""
