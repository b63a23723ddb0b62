"""The collector freeze: shared by the workers of a process, and never an application's."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kflow.runtime import freeze


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


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


def test_while_frozen_the_youngest_generation_is_collected_less_often() -> None:
    gc.set_threshold(700, 10, 10)
    worker = object()
    freeze.freeze(worker)
    assert gc.get_threshold() == (freeze.YOUNG_THRESHOLD, 10, 10)
    freeze.thaw(worker)
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_an_application_chose_are_left_alone() -> None:
    gc.set_threshold(50_000, 20, 20)  # higher than kflow's: kept while frozen
    worker = object()
    freeze.freeze(worker)
    assert gc.get_threshold() == (50_000, 20, 20)
    freeze.thaw(worker)
    gc.set_threshold(700, 10, 10)
    freeze.freeze(worker)
    gc.set_threshold(1_000, 10, 10)  # changed while frozen: not undone
    freeze.thaw(worker)
    assert gc.get_threshold() == (1_000, 10, 10)


def test_an_applications_own_freeze_keeps_its_thresholds_too() -> None:
    gc.set_threshold(700, 10, 10)
    gc.freeze()
    worker = object()
    freeze.freeze(worker)
    assert gc.get_threshold() == (700, 10, 10)
    freeze.thaw(worker)


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
