"""Loading and compiling a definition in one call, with the problems of both together."""

from __future__ import annotations

import os
import pathlib

from kflow.errors import Problem, SpecError
from kflow.plan.compile import compile_plan
from kflow.plan.model import Plan
from kflow.spec import loader


def load_plan(source: str | os.PathLike[str], filename: str | None = None) -> Plan:
    """Load and compile a definition, given as a path or as YAML text.

    A `str` is a path when it is one line that names an existing file or ends in
    `.yaml`, `.yml` or `.json`; otherwise it is the text itself. Raises SpecError with
    the problems of loading and compiling together: when loading finds problems, the
    valid part of the definition is still compiled and checked.
    """
    if isinstance(source, str) and not _is_path(source):
        text, name = source, filename or "<string>"
    else:
        text, name = loader.read_text(source), filename or os.fspath(source)
    reading = loader.read_spec(text, name)
    target = reading.loaded or reading.partial
    problems: list[Problem] = list(reading.problems)
    if target is not None:
        try:
            plan = compile_plan(target)
        except SpecError as error:
            seen = set(problems)
            problems.extend(p for p in error.problems if p not in seen)
        else:
            if reading.loaded is not None:
                return plan
    raise SpecError(sorted(problems, key=lambda p: (p.line, p.column)))


def _is_path(text: str) -> bool:
    if "\n" in text:
        return False
    if text.endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return pathlib.Path(text).is_file()
    except (OSError, ValueError):  # too long, or a NUL byte: text, not a path
        return False
