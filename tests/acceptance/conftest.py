"""Running the real `kflow` command in subprocesses, in a temporary directory.

`kflow(...)` runs one command to the end and returns (exit code, stdout, stderr);
`kflow.start(...)` starts one in the background (e.g. a long `kflow run` that a
second command then pauses, cancels or kills). Every command gets `--db` pointing
at a fresh SQLite file unless the test says `db=False`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CORPUS = REPO / "tests" / "corpus" / "runs"
KFLOW = [sys.executable, "-m", "kflow.cli"]
COMMAND_TIMEOUT = 30.0
PYCACHE = Path(tempfile.gettempdir()) / f"kflow-acceptance-pycache-{os.getuid()}"
CREATED = re.compile(r"run ([0-9a-f]{16,}) created")
# Variables that would change what rich prints or which database kflow opens.
_SCRUBBED = ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")

Arg = str | os.PathLike[str]


class Result(NamedTuple):
    """How a finished command went."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Stdout parsed as JSON."""
        return json.loads(self.stdout)

    @property
    def text(self) -> str:
        """Stdout and stderr together, for looking up messages wherever they were printed."""
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"exit code {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def base_env() -> dict[str, str]:
    """The environment of every command: ours, minus what changes kflow's or rich's output.

    Compiled bytecode goes to a cache outside the work tree, so each command does not
    compile kflow afresh (which it would with PYTHONDONTWRITEBYTECODE set).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFLOW_")}
    for name in _SCRUBBED:
        env.pop(name, None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


class Background:
    """A `kflow` command running in the background, its output going to files."""

    def __init__(
        self, argv: list[str], cwd: Path, env: Mapping[str, str], out_dir: Path, name: str
    ) -> None:
        self.argv = argv
        self.stdout_path = out_dir / f"{name}.stdout"
        self.stderr_path = out_dir / f"{name}.stderr"
        self._files: list[IO[bytes]] = [self.stdout_path.open("wb"), self.stderr_path.open("wb")]
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._files[0],
            stderr=self._files[1],
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    def output(self) -> str:
        """What it has printed so far, stdout then stderr."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the output matches the regular expression `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output())
            if found:
                return found
            if not self.running():
                found = re.search(pattern, self.output())
                if found:
                    return found
                pytest.fail(f"`{pattern}` never appeared; the command ended:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"`{pattern}` did not appear within {timeout}s:\n{self.output()}")
            time.sleep(0.02)

    def run_id(self, timeout: float = 10.0) -> str:
        """The run id that `kflow run` announces."""
        return self.wait_for(CREATED.pattern, timeout).group(1)

    def send(self, number: signal.Signals) -> None:
        """Send a signal to the process."""
        self.process.send_signal(number)

    def finish(self, timeout: float = 20.0) -> Result:
        """Wait for the process to exit and return what it printed."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{self.argv} did not exit within {timeout}s:\n{self.output()}")
        self._close()
        return Result(
            code,
            self.stdout_path.read_text(errors="replace"),
            self.stderr_path.read_text(errors="replace"),
        )

    def stop(self) -> None:
        """Kill the process if it still runs, and reap it."""
        if self.running():
            self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        for file in self._files:
            file.close()


class Kflow:
    """Runs `kflow` commands in one working directory, on one database."""

    def __init__(self, cwd: Path, db: Path, out_dir: Path) -> None:
        self.cwd = cwd
        self.db = db
        self.env = base_env()
        self._out_dir = out_dir
        self._background: list[Background] = []

    def argv(self, args: tuple[Arg, ...], db: bool | Path = True) -> list[str]:
        """The command line for `args`, with `--db` unless `db` is False."""
        prefix = [] if db is False else ["--db", str(self.db if db is True else db)]
        return [*KFLOW, *prefix, *(os.fspath(a) for a in args)]

    def __call__(
        self,
        *args: Arg,
        db: bool | Path = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> Result:
        """Run `kflow ARGS` to the end."""
        done = subprocess.run(
            self.argv(args, db),
            cwd=cwd or self.cwd,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def start(
        self,
        *args: Arg,
        db: bool | Path = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Background:
        """Start `kflow ARGS` in the background; it is killed at the end of the test."""
        name = f"background-{len(self._background)}"
        process = Background(
            self.argv(args, db), cwd or self.cwd, {**self.env, **(env or {})}, self._out_dir, name
        )
        self._background.append(process)
        return process

    def each(
        self,
        *commands: tuple[Arg, ...],
        db: bool | Path = True,
        env: Mapping[str, str] | None = None,
    ) -> list[Result]:
        """Run several independent commands at once (they start faster side by side)."""
        processes = [self.start(*command, db=db, env=env) for command in commands]
        return [process.finish(COMMAND_TIMEOUT) for process in processes]

    def status(self, run_id: str) -> dict[str, Any]:
        """`kflow status --json RUN_ID`, parsed."""
        result = self("status", "--json", run_id)
        assert result.code == 0, str(result)
        data: dict[str, Any] = result.json()
        return data

    def close(self) -> None:
        """Kill whatever still runs."""
        for process in self._background:
            process.stop()


@pytest.fixture
def kflow(tmp_path: Path) -> Iterator[Kflow]:
    """The `kflow` command, run in `tmp_path` on the database `tmp_path/journal.db`."""
    out_dir = tmp_path / "output"
    out_dir.mkdir()
    cli = Kflow(tmp_path, tmp_path / "journal.db", out_dir)
    yield cli
    cli.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of tests/corpus/runs: tiny workflows, `steps.py` and its `kflow.toml`."""
    return Path(shutil.copytree(CORPUS, tmp_path / "runs", ignore=_IGNORED))


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/ without any database the examples may have left there."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=_IGNORED))


_IGNORED = shutil.ignore_patterns("__pycache__", "*.db", "*.db-*")


def steps_of(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The steps of a `status --json` answer, by id."""
    return {step["id"]: step for step in status["steps"]}


def started(status: Mapping[str, Any]) -> set[str]:
    """Ids of the steps that have started at least once."""
    return {step["id"] for step in status["steps"] if step["attempts"] > 0}


@contextlib.contextmanager
def locked(db: Path) -> Iterator[None]:
    """Hold an exclusive lock on the database, as an open `sqlite3` shell transaction would."""
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@contextlib.contextmanager
def read_only(db: Path) -> Iterator[None]:
    """Make the database file unwritable for kflow.

    As an ordinary user `chmod 0444` is enough. Root ignores file modes, so as root
    the file is made immutable with `chattr +i` (skipping when the filesystem cannot).
    """
    if os.geteuid() != 0:
        mode = db.stat().st_mode
        db.chmod(0o444)
        try:
            yield
        finally:
            db.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: cannot make the database read-only")
    made = subprocess.run([chattr, "+i", str(db)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"running as root and `chattr +i` failed: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(db)], check=True)


def api_run(db: Path, workflow: Path, inputs: Mapping[str, Any] | None = None) -> str:
    """Run a workflow to the end through the Python API (quicker than starting `kflow`).

    For setting up a journal that the command under test then reads; `steps` imported
    for the run is forgotten again, as is its folder on the import path.
    """
    from kflow import Engine

    path, engine = list(sys.path), Engine(db)
    try:
        result = engine.run(workflow, inputs)
    finally:
        engine.close()
        sys.path[:] = path
        sys.modules.pop("steps", None)
    assert result.status in ("succeeded", "failed"), result
    return result.run_id


def stored_runs(db: Path) -> dict[str, str]:
    """Every run in the database and its status, read through the Python API."""
    from kflow import Engine

    assert db.exists(), f"{db} does not exist"
    engine = Engine(db)
    try:
        return {run.run_id: run.status for run in engine.runs(limit=1000)}
    finally:
        engine.close()
