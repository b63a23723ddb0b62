"""Smoke tests of the benchmark script."""

from __future__ import annotations
