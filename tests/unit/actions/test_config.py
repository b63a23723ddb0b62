from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from kflow.actions import KflowConfig, load_config
from kflow.errors import KflowError


def write(directory: Path, text: str) -> Path:
    path = directory / "kflow.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_full_config_is_read(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = write(
        tmp_path,
        """
        [agents]
        kPlanner = "agents:Planner"

        [engine]
        max_concurrency = 4
        db = "data/runs.db"
        durability = "full"

        [python]
        paths = ["src"]
        """,
    )
    config = load_config(path)
    assert config.source == path.resolve()
    assert dict(config.agents) == {"kPlanner": "agents:Planner"}
    assert dict(config.engine) == {
        "max_concurrency": 4,
        "db": str(tmp_path.resolve() / "data/runs.db"),
        "durability": "full",
    }
    assert config.python_paths == (tmp_path.resolve(), (tmp_path / "src").resolve())


def test_the_config_directory_is_always_a_python_path(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.python_paths == (tmp_path.resolve(),)
    assert dict(config.agents) == {}


def test_a_database_url_or_absolute_path_is_kept_as_given(tmp_path: Path) -> None:
    url = "postgresql://kflow@localhost/kflow"
    assert load_config(write(tmp_path, f'[engine]\ndb = "{url}"\n')).engine["db"] == url
    assert load_config(write(tmp_path, '[engine]\ndb = "/var/k.db"\n')).engine["db"] == "/var/k.db"


def test_the_first_search_directory_with_a_config_wins(tmp_path: Path) -> None:
    empty, first, second = (tmp_path / name for name in ("empty", "first", "second"))
    for directory in (empty, first, second):
        directory.mkdir()
    write(first, '[agents]\nkA = "a:A"\n')
    write(second, '[agents]\nkB = "b:B"\n')
    config = load_config(None, [empty, first, second])
    assert config.source == (first / "kflow.toml").resolve()
    assert dict(config.agents) == {"kA": "a:A"}


def test_no_config_anywhere_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(None, [tmp_path]) == KflowConfig()


def test_an_explicit_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "kflow.toml"
    with pytest.raises(KflowError, match=f"config file '{missing}' not found"):
        load_config(missing)


def test_invalid_toml_names_the_file_and_the_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[agents\nkA = 1\n")
    with pytest.raises(KflowError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path.resolve()}: not valid TOML: ")
    assert "line 1" in str(caught.value)


def test_an_unknown_section_names_the_file_and_key_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "[egnine]\nmax_concurrency = 2\n")
    with pytest.raises(KflowError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path.resolve()}: unknown key 'egnine' (did you mean 'engine'?); "
        "the known keys are agents, engine, python"
    )


def test_an_unknown_engine_key_is_named_with_its_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[engine]\nmax_concurency = 2\n")
    with pytest.raises(KflowError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "unknown key 'engine.max_concurency' (did you mean 'max_concurrency'?)" in message
    assert "the known keys are engine.max_concurrency, engine.db, engine.durability" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [agents]
        kPlanner = "agents.Planner"
        kBad = 3

        [engine]
        max_concurrency = 0
        db = ""
        durability = "ful"

        [python]
        paths = ["missing_dir"]
        """,
    )
    with pytest.raises(KflowError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path.resolve()} has 6 problems:\n  - ")
    assert (
        "agents.kPlanner: expected a 'module:Class' string, got 'agents.Planner' "
        "(did you mean 'agents:Planner'?)" in message
    )
    assert "agents.kBad: expected a 'module:Class' string, got 3" in message
    assert "engine.max_concurrency: expected a whole number >= 1, got 0" in message
    assert "engine.db: expected a file path or database URL, got ''" in message
    assert "engine.durability: expected 'normal' or 'full', got 'ful' (did you mean 'full'?)" in (
        message
    )
    assert "python.paths: directory 'missing_dir'" in message
    assert "does not exist" in message


def test_a_section_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KflowError, match=r"'agents' must be a table, written \[agents\]"):
        load_config(write(tmp_path, 'agents = "kPlanner"\n'))


def test_python_paths_must_be_a_list_of_strings(tmp_path: Path) -> None:
    with pytest.raises(KflowError, match="python.paths: expected a list of directories, got 'src'"):
        load_config(write(tmp_path, '[python]\npaths = "src"\n'))


def test_activate_puts_the_paths_first_on_sys_path_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "lib").mkdir()
    config = load_config(write(tmp_path, '[python]\npaths = ["lib"]\n'))
    config.activate()
    config.activate()
    expected = [str(tmp_path.resolve()), str((tmp_path / "lib").resolve())]
    assert sys.path[:2] == expected
    assert all(sys.path.count(p) == 1 for p in expected)


def test_activate_makes_the_config_directory_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "config_neighbour_mod.py").write_text("VALUE = 7\n")
    load_config(write(tmp_path, "")).activate()
    try:
        module = __import__("config_neighbour_mod")
        assert module.VALUE == 7
    finally:
        sys.modules.pop("config_neighbour_mod", None)
