"""Probes of the bench process: here, the CPU time the hypervisor takes (`stolen_seconds`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import probes


def test_stolen_seconds_reads_the_steal_column_of_proc_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 0 20 300 4 0 1 250 0 0\ncpu0 5 0 10 150 2 0 0 125 0 0\n")
    monkeypatch.setattr(probes, "_PROC_STAT", stat)
    assert probes.stolen_seconds() == pytest.approx(250 / os.sysconf("SC_CLK_TCK"))


@pytest.mark.parametrize("text", ["cpu  10 0 20 300\n", "nothing here\n", None])
def test_stolen_seconds_is_none_where_the_machine_does_not_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | None
) -> None:
    stat = tmp_path / "stat"
    if text is not None:
        stat.write_text(text)
    monkeypatch.setattr(probes, "_PROC_STAT", stat)
    assert probes.stolen_seconds() is None
