"""Start-up of the `kflow` command: how long a new process takes to answer.

Three commands, each in a new process, timed from outside: `kflow --help`; `kflow runs`
on a journal of one run; and `kflow run` of a workflow of three `noop` steps, on a new
journal each time. The floor, measured in the same call, is `python -c pass`: the
interpreter's own start. Timed with bytecode caching on, after one run of each that
writes the caches, as an installed kflow starts (pip compiles at install time). With
`PYTHONDONTWRITEBYTECODE` set, as in some sandboxes, an editable install would compile
kflow's source at every start (~0.2 s more here), which says nothing about kflow.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

THREE_STEPS = """\
id: three
steps:
  - id: a
    action: noop
  - id: b
    action: noop
    depends_on: [a]
  - id: c
    action: noop
    depends_on: [b]
"""


def startup_seconds(repeat: int) -> dict[str, float] | None:
    """Median seconds of each command (`python`, `help`, `runs`, `run`), or None if the
    `kflow` command is not installed."""
    kflow = Path(sys.executable).with_name("kflow")
    command = str(kflow) if kflow.exists() else shutil.which("kflow")
    if command is None:
        return None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="kflow-startup-") as tmp:
        home = Path(tmp)
        workflow = home / "three.yaml"
        workflow.write_text(THREE_STEPS, encoding="utf-8")
        journal = home / "runs.db"
        first_run: list[str | Path] = [command, "--db", journal, "run", workflow]
        subprocess.run(first_run, check=True, capture_output=True, env=env, cwd=home)

        def fresh_run() -> list[str | Path]:
            (home / "new.db").unlink(missing_ok=True)
            return [command, "--db", home / "new.db", "run", workflow]

        commands: dict[str, Callable[[], list[str | Path]]] = {
            "python": lambda: [sys.executable, "-c", "pass"],
            "help": lambda: [command, "--help"],
            "runs": lambda: [command, "--db", journal, "runs"],
            "run": fresh_run,
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(1 + repeat):  # round 0 writes the caches
            for name, argv in commands.items():  # in turn: a drift of the VM hits each alike
                args = argv()
                start = time.perf_counter()
                subprocess.run(args, check=True, capture_output=True, env=env, cwd=home)
                if round_:
                    seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def describe(startup: dict[str, float]) -> str:
    """One line: each command's seconds, and as a multiple of the interpreter's start."""
    floor = startup["python"]
    parts = [
        f"{label} {startup[name]:.3f} s ({startup[name] / floor:.1f}x)"
        for name, label in (("help", "--help"), ("runs", "runs"), ("run", "run of 3 noop steps"))
    ]
    return f"start-up of `kflow` (new process): {', '.join(parts)}; `python -c pass` {floor:.3f} s"
