"""The shell action's inputs, checked and normalised before anything is started."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kflow.actions.base import StepContext
from kflow.errors import ErrorKind, StepFailure
from kflow.spec.durations import parse_duration
from kflow.spec.suggest import did_you_mean

INPUTS = ("command", "cwd", "env", "timeout", "parse", "check")


@dataclass(frozen=True, slots=True)
class ShellRequest:
    """A validated shell invocation."""

    command: tuple[str, ...]
    """The argument list; item 0 is the program, looked up on PATH."""
    cwd: str | None = None
    env: dict[str, str] | None = None
    """The full environment for the child (os.environ with the step's `env` merged over it)."""
    timeout: float | None = None
    parse: Literal["text", "json"] = "text"
    check: bool = True


def parse_request(inputs: Mapping[str, Any], context: StepContext | None = None) -> ShellRequest:
    """Check the inputs `command`, `cwd`, `env`, `timeout`, `parse`, `check`; list every problem.

    The effective timeout is the smaller of the `timeout` input and the step's own timeout.
    """
    problems = [
        f"unknown input '{name}'{did_you_mean(name, INPUTS)}"
        for name in inputs
        if name not in INPUTS
    ]
    command = _command(inputs.get("command"), problems)
    env = _env(inputs.get("env"), problems)
    timeout = _timeout(inputs.get("timeout"), problems)
    parse = inputs.get("parse", "text")
    if parse not in ("text", "json"):
        problems.append(f"`parse` must be 'text' or 'json', not {parse!r}")
    check = inputs.get("check", True)
    if not isinstance(check, bool):
        problems.append(f"`check` must be true or false, not {check!r}")
    cwd = inputs.get("cwd")
    if cwd is not None and not isinstance(cwd, str | os.PathLike):
        problems.append(f"`cwd` must be a directory path, not {type(cwd).__name__}")
    if problems:
        raise StepFailure(
            "shell: invalid inputs: " + "; ".join(problems) + f" (it takes {', '.join(INPUTS)})",
            ErrorKind.VALIDATION,
        )
    step_timeout = context.timeout if context is not None else None
    limits = [t for t in (timeout, step_timeout) if t is not None]
    return ShellRequest(
        command=tuple(command),
        cwd=os.fspath(cwd) if cwd is not None else None,
        env=env,
        timeout=min(limits) if limits else None,
        parse="json" if parse == "json" else "text",
        check=bool(check),
    )


def _command(value: object, problems: list[str]) -> list[str]:
    if value is None:
        problems.append("`command` is required: a list of arguments, e.g. ['ls', '-l']")
        return []
    if isinstance(value, str):
        try:
            suggestion = f"write {shlex.split(value)!r}"
        except ValueError:
            suggestion = "write each argument as its own list item"
        problems.append(
            f"`command` must be a list of arguments, not the string {value!r}: {suggestion}; "
            "kflow never runs commands through a shell, so quotes, pipes and `;` have no "
            "special meaning (to use a shell on purpose, write ['sh', '-c', '...'])"
        )
        return []
    if not isinstance(value, list | tuple):
        problems.append(f"`command` must be a list of arguments, not {type(value).__name__}")
        return []
    if not value:
        problems.append("`command` is an empty list; give at least the program to run")
    argv: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            argv.append(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            argv.append(str(item))  # numbers from `$inputs` references are fine as arguments
        else:
            problems.append(
                f"`command` item {i} is {type(item).__name__} {item!r}; "
                "each item must be a string or a number"
            )
    return argv


def _env(value: object, problems: list[str]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(f"`env` must be a mapping of names to values, not {type(value).__name__}")
        return None
    env = dict(os.environ)
    for name, item in value.items():
        if not isinstance(name, str) or not name or "=" in name:
            problems.append(f"`env` has an invalid variable name {name!r}")
        elif item is None:
            env.pop(name, None)  # null unsets a variable
        elif isinstance(item, str | int | float) and not isinstance(item, bool):
            env[name] = str(item)
        else:
            problems.append(
                f"`env` variable '{name}' must be a string or a number, not {type(item).__name__}"
            )
    return env


def _timeout(value: object, problems: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            problems.append(f"`timeout`: {exc}")
            return None
    if isinstance(value, float) and value > 0:
        return value
    problems.append(f"`timeout` must be a positive number of seconds, not {value!r}")
    return None
