"""Loading a workflow definition from YAML: parse, normalise, validate, report every problem.

Both seed forms load: the mapping itself or the mapping under a root `workflow:` key, and
the 004 task form (`tasks` with `name`, `engine.max_concurrent_tasks`), which is read as
`steps` with `id` and `engine.max_concurrency` while messages keep the file's spelling.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path as FilePath

from pydantic import ValidationError

from kflow.errors import Problem, SpecError
from kflow.spec import diagnose, duplicates, reader, salvage
from kflow.spec.models import WorkflowSpec
from kflow.spec.salvage import Omitted
from kflow.spec.source import Path, SourceMap

_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class LoadedSpec:
    """A validated definition with the locations of everything in it."""

    spec: WorkflowSpec
    source: SourceMap
    filename: str
    omitted: Omitted | None = None
    """Set only on a partial spec: the parts left out."""


@dataclass(frozen=True)
class SpecReading:
    """Everything reading a definition found, valid or not."""

    loaded: LoadedSpec | None
    """The spec, when there are no problems."""
    problems: tuple[Problem, ...]
    partial: LoadedSpec | None
    """With problems: the valid part of the definition, so later checks can still run."""


def load_spec(text: str, filename: str = "<string>") -> LoadedSpec:
    """Parse and validate a definition; raise SpecError listing every problem."""
    reading = read_spec(text, filename)
    if reading.loaded is None:
        raise SpecError(reading.problems)
    return reading.loaded


def load_spec_file(path: str | os.PathLike[str]) -> LoadedSpec:
    """Load a definition from a file."""
    return load_spec(read_text(path), os.fspath(path))


def read_text(path: str | os.PathLike[str]) -> str:
    """A definition file's text, or SpecError saying why it cannot be read."""
    try:
        return FilePath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise SpecError([Problem(f"cannot read the file: {reason}", os.fspath(path))]) from None


def read_spec(text: str, filename: str = "<string>") -> SpecReading:
    """Read a definition and return its spec or its problems (and a partial spec)."""
    document = reader.read_document(text, filename)
    data, source = document.data, document.source
    if data is None:
        return SpecReading(None, tuple(document.problems), None)
    data.setdefault("id", default_id(filename))
    repeats = duplicates.find_repeats(data, source, filename)
    problems = document.problems + [r.problem for r in repeats]
    failed: list[Path] = []
    spec = None
    try:
        spec = WorkflowSpec.model_validate(data)
    except ValidationError as error:
        # A value the reader already reported (a bad tag, alias or nesting) is not reported twice.
        explained = {(p.line, p.column) for p in document.problems}
        found = diagnose.validation_problems(error, data, source, filename)
        problems += [p for p in found if (p.line, p.column) not in explained]
        failed = diagnose.failed_paths(error, data)
    problems.sort(key=lambda p: (p.line, p.column))
    if not problems and spec is not None:
        return SpecReading(LoadedSpec(spec, source, filename), (), None)
    salvaged = salvage.salvage(data, failed + [(r.field, r.index) for r in repeats])
    partial = None
    if salvaged is not None:
        partial = LoadedSpec(salvaged[0], source, filename, salvaged[1])
    return SpecReading(None, tuple(problems), partial)


def default_id(filename: str) -> str:
    """A workflow id from the file's name: `etl jobs.yaml` -> `etl-jobs`."""
    if filename.startswith("<"):
        return "workflow"
    stem = _NOT_A_NAME.sub("-", FilePath(filename).stem).strip("-")
    if not stem:
        return "workflow"
    return stem if stem[0].isalpha() or stem[0] == "_" else f"workflow-{stem}"
