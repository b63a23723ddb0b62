"""SourceMap: locating paths and spelling them as the file does."""

from __future__ import annotations

from kflow.spec.source import SourceMap


def source() -> SourceMap:
    return SourceMap(
        values={(): (1, 1), ("steps",): (2, 3), ("steps", 0): (3, 7), ("steps", 0, "id"): (3, 11)},
        keys={("steps",): (2, 1), ("steps", 0, "id"): (3, 7)},
        spelled={("steps",): "tasks", ("steps", 0, "id"): "name"},
    )


def test_a_known_path_is_located_at_its_value() -> None:
    assert source().locate(("steps", 0, "id")) == (3, 11)


def test_a_key_location_is_given_when_asked_for() -> None:
    assert source().locate(("steps", 0, "id"), key=True) == (3, 7)


def test_an_unknown_path_is_located_at_its_longest_known_prefix() -> None:
    assert source().locate(("steps", 0, "timeout", "x")) == (3, 7)
    assert source().locate(("engine", "type")) == (1, 1)


def test_an_empty_map_locates_nothing() -> None:
    assert SourceMap().locate(("steps", 0)) == (0, 0)


def test_paths_are_displayed_with_the_files_own_spelling() -> None:
    assert source().display(("steps", 0, "id")) == "tasks[0].name"
    assert source().display(("steps", 2, "inputs", "plan")) == "tasks[2].inputs.plan"
    assert SourceMap().display(("engine", "timeout")) == "engine.timeout"
