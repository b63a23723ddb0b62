"""Acceptance tests: the real `kflow` command, run in subprocesses on throwaway databases."""

from __future__ import annotations
