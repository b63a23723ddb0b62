"""The `kflow` command's start-up timings (`bench.cli`)."""

from __future__ import annotations

import pytest

from bench import cli

pytestmark = pytest.mark.timeout(120)


def test_each_command_is_timed_against_the_interpreter() -> None:
    seconds = cli.startup_seconds(1)
    assert seconds is not None, "the kflow command is installed with the package"
    assert set(seconds) == {"python", "help", "runs", "run"}
    # Every kflow command starts the interpreter and then does more.
    assert all(seconds[name] > seconds["python"] for name in ("help", "runs", "run"))


def test_the_line_gives_seconds_and_multiples_of_the_floor() -> None:
    line = cli.describe({"python": 0.05, "help": 0.2, "runs": 0.25, "run": 0.5})
    assert line == (
        "start-up of `kflow` (new process): --help 0.200 s (4.0x), runs 0.250 s (5.0x), "
        "run of 3 noop steps 0.500 s (10.0x); `python -c pass` 0.050 s"
    )
