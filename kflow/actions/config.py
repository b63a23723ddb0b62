"""The project file `kflow.toml`: agents, engine settings and Python import paths."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kflow.errors import KflowError
from kflow.spec.suggest import did_you_mean

FILE_NAME = "kflow.toml"
_SECTIONS = ("agents", "engine", "python")
_ENGINE_KEYS = ("max_concurrency", "db", "durability")
_PYTHON_KEYS = ("paths",)
_DURABILITY = ("normal", "full")


@dataclass(frozen=True)
class KflowConfig:
    """What `kflow.toml` says; the defaults stand for "no config file"."""

    source: Path | None = None
    """The file this was read from; None when no file was found."""
    agents: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Agent name -> `module:Class` (or `module:object`)."""
    python_paths: tuple[Path, ...] = ()
    """Absolute directories to import from: the config's own directory, then `[python] paths`."""
    engine: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """`[engine]` settings as given, with a relative `db` path made relative to the file."""

    def activate(self) -> None:
        """Put `python_paths` at the front of `sys.path`, skipping those already there."""
        missing = [str(p) for p in self.python_paths if str(p) not in sys.path]
        if missing:
            sys.path[:0] = missing
            importlib.invalidate_caches()  # the finders may have cached these dirs as absent


def load_config(path: Path | None = None, search_dirs: Sequence[Path] = ()) -> KflowConfig:
    """Read `path`, or the first `kflow.toml` found in `search_dirs`; no file gives defaults."""
    if path is None:
        path = next((d / FILE_NAME for d in search_dirs if (d / FILE_NAME).is_file()), None)
        if path is None:
            return KflowConfig()
    elif not path.is_file():
        raise KflowError(f"config file '{path}' not found")
    path = path.resolve()
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise KflowError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise KflowError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return _parse(path, data)


def find_config(workflow: object, path: Path | None = None) -> KflowConfig:
    """`path` if given, else `kflow.toml` in the working directory or beside a workflow file."""
    dirs = [Path.cwd()]
    if isinstance(workflow, str | Path):
        dirs.append(Path(workflow).resolve().parent)
    return load_config(path, dirs)


def _parse(path: Path, data: Mapping[str, Any]) -> KflowConfig:
    problems: list[str] = []
    _unknown_keys(data, _SECTIONS, "", problems)
    agents = _agents(_table(data, "agents", problems), problems)
    engine = _engine(path.parent, _table(data, "engine", problems), problems)
    paths = _python_paths(path.parent, _table(data, "python", problems), problems)
    if problems:
        if len(problems) == 1:
            raise KflowError(f"{path}: {problems[0]}")
        listed = "\n".join(f"  - {p}" for p in problems)
        raise KflowError(f"{path} has {len(problems)} problems:\n{listed}")
    return KflowConfig(
        source=path,
        agents=MappingProxyType(agents),
        python_paths=paths,
        engine=MappingProxyType(engine),
    )


def _table(data: Mapping[str, Any], name: str, problems: list[str]) -> Mapping[str, Any]:
    value = data.get(name, {})
    if isinstance(value, Mapping):
        return value
    problems.append(f"'{name}' must be a table, written [{name}] on a line of its own")
    return {}


def _unknown_keys(
    table: Mapping[str, Any], known: Sequence[str], prefix: str, problems: list[str]
) -> None:
    for key in table:
        if key not in known:
            problems.append(
                f"unknown key '{prefix}{key}'{did_you_mean(key, known)}; "
                f"the known keys are {', '.join(prefix + k for k in known)}"
            )


def _agents(table: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    agents: dict[str, str] = {}
    for name, ref in table.items():
        module, sep, attr = ref.partition(":") if isinstance(ref, str) else ("", "", "")
        if sep and module and attr:
            agents[name] = ref
            continue
        hint = ""
        if isinstance(ref, str) and "." in ref:
            head, _, tail = ref.rpartition(".")
            hint = f" (did you mean '{head}:{tail}'?)"
        problems.append(f"agents.{name}: expected a 'module:Class' string, got {ref!r}{hint}")
    return agents


def _engine(base: Path, table: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    _unknown_keys(table, _ENGINE_KEYS, "engine.", problems)
    engine = {k: v for k, v in table.items() if k in _ENGINE_KEYS}
    limit = engine.get("max_concurrency", 1)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        problems.append(f"engine.max_concurrency: expected a whole number >= 1, got {limit!r}")
    db = engine.get("db", "-")
    if not isinstance(db, str) or not db:
        problems.append(f"engine.db: expected a file path or database URL, got {db!r}")
    elif "db" in engine and "://" not in db and db != ":memory:":
        engine["db"] = str(base / db)  # relative to the config file, not to the caller's cwd
    durability = engine.get("durability", "normal")
    if durability not in _DURABILITY:
        problems.append(
            f"engine.durability: expected 'normal' or 'full', got {durability!r}"
            f"{did_you_mean(str(durability), _DURABILITY)}"
        )
    return engine


def _python_paths(base: Path, table: Mapping[str, Any], problems: list[str]) -> tuple[Path, ...]:
    _unknown_keys(table, _PYTHON_KEYS, "python.", problems)
    given = table.get("paths", [])
    if not isinstance(given, list) or not all(isinstance(p, str) for p in given):
        problems.append(f"python.paths: expected a list of directories, got {given!r}")
        given = []
    paths = [base]
    for entry in given:
        resolved = (base / entry).resolve()
        if not resolved.is_dir():
            problems.append(f"python.paths: directory '{entry}' ({resolved}) does not exist")
        elif resolved not in paths:
            paths.append(resolved)
    return tuple(paths)
