"""Fixtures shared by the actions tests: a step context and throwaway modules."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kflow.actions import StepContext

MakeModule = Callable[[str, str], str]
_counter = itertools.count()


@pytest.fixture
def context() -> StepContext:
    return StepContext(run_id="run-1", step_id="step", index=None, attempt=1)


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeModule]:
    """Write a module under a unique name on sys.path; return that name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created: list[str] = []

    def make(stem: str, source: str) -> str:
        name = f"{stem}_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        created.append(name)
        return name

    yield make
    for name in created:
        sys.modules.pop(name, None)
