"""What a `kflow` command loads before it answers: the light ones skip the runtime.

`--help`, `runs` and `history` only print or read the journal. Loading the workflow
language (pydantic) and the runtime first would cost them ~0.5 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.conftest import CORPUS, Kflow

pytestmark = pytest.mark.timeout(60)

HEAVY = {"pydantic", "asyncio", "yaml", "kflow.spec.models", "kflow.runtime.service"}
# Runs the command as `python -m kflow.cli` does, then lists the modules it loaded.
# (`-X importtime` would miss the modules that lazy exports load with import_module.)
_DRIVER = """
import atexit, json, runpy, sys
out, sys.argv = sys.argv[1], ["kflow", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module("kflow.cli", run_name="__main__")
"""


def _loaded(kflow: Kflow, tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(out), "--db", str(kflow.db), *args],
        cwd=kflow.cwd,
        env=kflow.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(out.read_text()))
    assert "kflow.cli.app" in modules
    return modules


def test_help_loads_neither_the_language_nor_the_runtime(kflow: Kflow, tmp_path: Path) -> None:
    assert not HEAVY & _loaded(kflow, tmp_path, "--help")


def test_runs_and_history_read_the_journal_without_the_runtime(
    kflow: Kflow, tmp_path: Path
) -> None:
    done = kflow("run", CORPUS / "hello.yaml", "-i", "name=Ann")
    assert done.code == 0, done
    run_id = kflow("runs", "--json").json()[0]["run_id"]
    assert not HEAVY & _loaded(kflow, tmp_path, "runs")
    assert not HEAVY & _loaded(kflow, tmp_path, "history", run_id)


def test_run_loads_what_it_needs(kflow: Kflow, tmp_path: Path) -> None:
    modules = _loaded(kflow, tmp_path, "run", str(CORPUS / "hello.yaml"), "-i", "name=Ann")
    assert modules >= HEAVY
