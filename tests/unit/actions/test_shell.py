from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kflow.actions import ShellAction, StepContext
from kflow.errors import ErrorKind, StepFailure

PY = sys.executable

# Writes "<own pid> <grandchild pid>" to argv[1] (atomically), then sleeps.
SPAWNS_AND_SLEEPS = """
import os, signal, subprocess, sys, time
if len(sys.argv) > 2:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
print("started", flush=True)
sys.stderr.write("working...\\n"); sys.stderr.flush()
time.sleep(60)
"""


def run(inputs: dict[str, Any], context: StepContext, grace: float = 2.0) -> dict[str, Any]:
    return asyncio.run(ShellAction(grace=grace)(inputs, context))


def running(pid: int) -> bool:
    """Whether `pid` is a live process (zombies count as gone: they run nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(*pids: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(running(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


def pids_from(path: Path) -> tuple[int, int]:
    own, child = path.read_text().split()
    return int(own), int(child)


def test_a_command_runs_and_returns_stdout_stderr_and_exit_code(context: StepContext) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    result = run({"command": [PY, "-c", code]}, context)
    assert result == {"stdout": "out\n", "stderr": "err\n", "exit_code": 0}


def test_python3_from_path_runs(context: StepContext) -> None:
    assert run({"command": ["python3", "-c", "print(6 * 7)"]}, context)["stdout"] == "42\n"


def test_shell_metacharacters_in_arguments_arrive_literally(context: StepContext) -> None:
    tricky = ["; rm -rf /", "$(whoami)", "a b", "`id`", "*", "x | y && z", "'\""]
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    result = run({"command": [PY, "-c", code, *tricky], "parse": "json"}, context)
    assert result["json"] == tricky


def test_numbers_in_the_command_become_arguments(context: StepContext) -> None:
    code = "import sys; print(sys.argv[1:])"
    assert run({"command": [PY, "-c", code, 3, 1.5]}, context)["stdout"] == "['3', '1.5']\n"


def test_json_output_is_parsed_when_asked(context: StepContext) -> None:
    code = "import json; print(json.dumps({'rows': [1, 2]}))"
    result = run({"command": [PY, "-c", code], "parse": "json"}, context)
    assert result["json"] == {"rows": [1, 2]}
    assert result["exit_code"] == 0


def test_output_that_is_not_json_is_a_validation_failure(context: StepContext) -> None:
    with pytest.raises(StepFailure) as caught:
        run({"command": [PY, "-c", "print('hello')"], "parse": "json"}, context)
    assert caught.value.kind is ErrorKind.VALIDATION
    assert "was asked for JSON (parse: json) but its output is not JSON" in caught.value.message
    assert "output starts with 'hello'" in caught.value.message


def test_a_command_given_as_a_string_is_rejected_with_the_list_to_write(
    context: StepContext,
) -> None:
    with pytest.raises(StepFailure) as caught:
        run({"command": "ls -l '/tmp/my dir'"}, context)
    message = caught.value.message
    assert caught.value.kind is ErrorKind.VALIDATION
    assert "`command` must be a list of arguments, not the string" in message
    assert "write ['ls', '-l', '/tmp/my dir']" in message
    assert "never runs commands through a shell" in message


def test_a_missing_or_empty_command_is_rejected(context: StepContext) -> None:
    with pytest.raises(StepFailure, match="`command` is required: a list of arguments"):
        run({}, context)
    with pytest.raises(StepFailure, match="`command` is an empty list"):
        run({"command": []}, context)


def test_every_invalid_input_is_listed_at_once(context: StepContext) -> None:
    with pytest.raises(StepFailure) as caught:
        run(
            {"command": [PY, {"a": 1}], "timout": 3, "parse": "yaml", "check": "yes"},
            context,
        )
    message = caught.value.message
    assert caught.value.kind is ErrorKind.VALIDATION
    assert "unknown input 'timout' (did you mean 'timeout'?)" in message
    assert "`command` item 1 is dict" in message
    assert "`parse` must be 'text' or 'json', not 'yaml'" in message
    assert "`check` must be true or false, not 'yes'" in message


def test_an_invalid_timeout_or_env_is_rejected(context: StepContext) -> None:
    with pytest.raises(StepFailure, match="`timeout` must be a positive number of seconds"):
        run({"command": [PY, "-c", ""], "timeout": -1}, context)
    with pytest.raises(StepFailure, match="`timeout`: 'soon' is not a duration"):
        run({"command": [PY, "-c", ""], "timeout": "soon"}, context)
    with pytest.raises(StepFailure, match="`env` variable 'X' must be a string or a number"):
        run({"command": [PY, "-c", ""], "env": {"X": [1]}}, context)


def test_a_missing_executable_is_a_permanent_failure(context: StepContext) -> None:
    with pytest.raises(StepFailure) as caught:
        run({"command": ["no-such-program-xyz", "--help"]}, context)
    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.message == (
        "command 'no-such-program-xyz' not found; check PATH or give an absolute path"
    )


def test_a_file_that_is_not_executable_is_a_permanent_failure(
    tmp_path: Path, context: StepContext
) -> None:
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    with pytest.raises(StepFailure) as caught:
        run({"command": [str(script)]}, context)
    assert caught.value.kind is ErrorKind.PERMANENT
    assert "permission denied" in caught.value.message
    assert "chmod +x" in caught.value.message


def test_a_non_zero_exit_names_the_command_the_code_and_the_end_of_stderr(
    context: StepContext,
) -> None:
    code = (
        "import sys\n"
        "for i in range(30): print(f'line {i}', file=sys.stderr)\n"
        "print('disk quota exceeded', file=sys.stderr); sys.exit(3)"
    )
    with pytest.raises(StepFailure) as caught:
        run({"command": [PY, "-c", code]}, context)
    failure = caught.value
    assert failure.kind is ErrorKind.UNKNOWN
    assert failure.retryable
    assert PY in failure.message
    assert "exited with code 3; last lines of stderr:" in failure.message
    assert "disk quota exceeded" in failure.message
    assert "line 29" in failure.message
    assert "line 5\n" not in failure.message  # only the last lines
    assert failure.details is not None and "line 0" in failure.details


def test_a_silent_failure_says_stderr_was_empty(context: StepContext) -> None:
    with pytest.raises(StepFailure, match="exited with code 1; it wrote nothing to stderr"):
        run({"command": [PY, "-c", "raise SystemExit(1)"]}, context)


@pytest.mark.parametrize("code", [126, 127])
def test_exit_codes_126_and_127_are_permanent(code: int, context: StepContext) -> None:
    with pytest.raises(StepFailure) as caught:
        run({"command": [PY, "-c", f"raise SystemExit({code})"]}, context)
    assert caught.value.kind is ErrorKind.PERMANENT
    assert f"exited with code {code}" in caught.value.message


def test_a_command_killed_by_a_signal_names_the_signal(context: StepContext) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    with pytest.raises(StepFailure, match="was killed by signal SIGKILL"):
        run({"command": [PY, "-c", code]}, context)


def test_with_check_off_a_non_zero_exit_is_returned(context: StepContext) -> None:
    result = run({"command": [PY, "-c", "raise SystemExit(4)"], "check": False}, context)
    assert result["exit_code"] == 4


def test_env_is_merged_over_the_environment_and_null_unsets(
    context: StepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KFLOW_TEST_DROP", "present")
    code = "import os; print(os.environ['GREETING'], os.environ.get('KFLOW_TEST_DROP'))"
    result = run(
        {"command": [PY, "-c", code], "env": {"GREETING": "hi", "KFLOW_TEST_DROP": None}},
        context,
    )
    assert result["stdout"] == "hi None\n"
    path = run({"command": ["python3", "-c", "print(1)"], "env": {"X": 1}}, context)
    assert path["stdout"] == "1\n"  # PATH still came from os.environ


def test_the_command_runs_in_cwd(tmp_path: Path, context: StepContext) -> None:
    result = run(
        {"command": [PY, "-c", "import os; print(os.getcwd())"], "cwd": str(tmp_path)}, context
    )
    assert result["stdout"].strip() == str(tmp_path.resolve())


def test_a_missing_cwd_is_reported_as_such_not_as_a_missing_command(
    tmp_path: Path, context: StepContext
) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(StepFailure) as caught:
        run({"command": [PY, "-c", ""], "cwd": str(missing)}, context)
    assert caught.value.kind is ErrorKind.PERMANENT
    assert f"working directory '{missing}'" in caught.value.message
    assert "does not exist" in caught.value.message


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path, context: StepContext) -> None:
    pidfile = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(StepFailure) as caught:
        run({"command": [PY, "-c", SPAWNS_AND_SLEEPS, str(pidfile)], "timeout": 1.5}, context)
    assert time.monotonic() - started < 10
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert "timed out after 1.5s and was killed" in caught.value.message
    assert "working..." in caught.value.message  # what it wrote to stderr before the end
    assert wait_gone(*pids_from(pidfile))


def test_a_child_that_ignores_sigterm_gets_sigkill_after_the_grace_period(
    tmp_path: Path, context: StepContext
) -> None:
    pidfile = tmp_path / "pids"
    command = [PY, "-c", SPAWNS_AND_SLEEPS, str(pidfile), "ignore-term"]
    started = time.monotonic()
    with pytest.raises(StepFailure, match="timed out"):
        run({"command": command, "timeout": 1.5}, context, grace=0.3)
    assert time.monotonic() - started < 10
    assert wait_gone(*pids_from(pidfile))


def test_the_step_timeout_applies_when_no_timeout_input_is_given(tmp_path: Path) -> None:
    context = StepContext(run_id="r", step_id="s", index=None, attempt=1, timeout=1.5)
    pidfile = tmp_path / "pids"
    with pytest.raises(StepFailure, match="timed out after 1.5s"):
        run({"command": [PY, "-c", SPAWNS_AND_SLEEPS, str(pidfile)], "timeout": "1m"}, context)
    assert wait_gone(*pids_from(pidfile))


def test_cancelling_the_step_kills_the_process_group_and_reraises(
    tmp_path: Path, context: StepContext
) -> None:
    pidfile = tmp_path / "pids"

    async def scenario() -> None:
        command = [PY, "-c", SPAWNS_AND_SLEEPS, str(pidfile)]
        task = asyncio.create_task(ShellAction()({"command": command}, context))
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert wait_gone(*pids_from(pidfile))


def test_the_result_is_plain_json_data(context: StepContext) -> None:
    result = run({"command": [PY, "-c", "print('x')"]}, context)
    assert json.loads(json.dumps(result)) == result
