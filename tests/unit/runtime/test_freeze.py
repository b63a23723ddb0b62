"""The collector freeze: shared by the workers of a process, and never an application's."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kflow.runtime import freeze


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_last_holder_to_go_undoes_the_freeze() -> None:
    first, second = object(), object()
    freeze.freeze(first)
    freeze.freeze(second)
    assert gc.get_freeze_count() > 0
    freeze.thaw(first)
    assert gc.get_freeze_count() > 0  # the second worker still drives runs
    freeze.thaw(second)
    assert gc.get_freeze_count() == 0


def test_an_applications_own_freeze_is_left_alone() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    worker = object()
    freeze.freeze(worker)
    freeze.thaw(worker)
    assert gc.get_freeze_count() == frozen


def test_thawing_twice_or_without_a_freeze_does_nothing() -> None:
    worker = object()
    freeze.thaw(worker)
    freeze.freeze(worker)
    freeze.thaw(worker)
    freeze.thaw(worker)
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_collection_paused_holds_the_collector_off_and_restores_it(enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with freeze.collection_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
