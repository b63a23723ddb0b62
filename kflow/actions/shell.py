"""Running a command as an argument list, never through a shell."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shlex
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kflow.actions.base import StepContext
from kflow.actions.shell_inputs import ShellRequest, parse_request
from kflow.errors import ErrorKind, StepFailure

_STDERR_LINES = 10
_TAIL_CHARS = 2000
_DETAILS_CHARS = 20_000
_EXIT_NOTES = {
    126: (" (the command was found but could not be executed)", ErrorKind.PERMANENT),
    127: (" (command not found)", ErrorKind.PERMANENT),
}


class ShellAction:
    """Runs `command` (an argument list) in its own process group and returns its output.

    On timeout or cancellation the whole group gets SIGTERM, then SIGKILL after
    `grace` seconds, so no stray children outlive the step.
    """

    def __init__(self, *, grace: float = 2.0) -> None:
        self.grace = grace

    def __repr__(self) -> str:
        return f"ShellAction(grace={self.grace:g})"

    async def __call__(self, inputs: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
        """Run the command once; `shell_inputs.parse_request` documents the inputs."""
        request = parse_request(inputs, context)
        proc = await _spawn(request)
        stdout, stderr = await _communicate(proc, request, self.grace)
        return _result(request, proc.returncode or 0, stdout, stderr)


def display(command: tuple[str, ...]) -> str:
    """The command as one shell-quoted line in backquotes, shortened for messages."""
    text = shlex.join(command)
    return f"`{text}`" if len(text) <= 120 else f"`{text[:117]}...`"


async def _spawn(request: ShellRequest) -> asyncio.subprocess.Process:
    program = request.command[0]
    if request.cwd is not None and not Path(request.cwd).is_dir():
        # Checked first: exec reports a missing cwd as a missing command.
        raise StepFailure(
            f"working directory '{request.cwd}' for command '{program}' does not exist "
            "or is not a directory",
            ErrorKind.PERMANENT,
        )
    try:
        return await asyncio.create_subprocess_exec(
            *request.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=request.cwd,
            env=request.env,
            start_new_session=True,  # its own process group, so we can kill all of it
        )
    except FileNotFoundError:
        raise StepFailure(
            f"command '{program}' not found; check PATH or give an absolute path",
            ErrorKind.PERMANENT,
        ) from None
    except PermissionError:
        raise StepFailure(
            f"command '{program}' could not be run: permission denied; make it executable "
            f"(chmod +x) or run it through its interpreter, e.g. ['sh', '{program}']",
            ErrorKind.PERMANENT,
        ) from None
    except OSError as exc:
        # Running out of processes or memory may pass; anything else will not.
        short = exc.errno in (errno.EAGAIN, errno.ENOMEM)
        raise StepFailure(
            f"command '{program}' could not be started: {exc.strerror or exc}",
            ErrorKind.RESOURCE if short else ErrorKind.PERMANENT,
        ) from None


async def _communicate(
    proc: asyncio.subprocess.Process, request: ShellRequest, grace: float
) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    reads = asyncio.gather(proc.stdout.read(), proc.stderr.read())
    try:
        async with asyncio.timeout(request.timeout):
            # Shielded so that after a timeout the reads still collect what was written.
            stdout, stderr = await asyncio.shield(reads)
            await proc.wait()
        return stdout, stderr
    except TimeoutError:
        await _stop(proc, reads, grace)
        partial = reads.result()[1] if reads.done() and not reads.cancelled() else b""
        raise StepFailure(
            f"command {display(request.command)} timed out after {request.timeout:g}s "
            f"and was killed{_stderr_tail(partial)}",
            ErrorKind.TIMEOUT,
        ) from None
    except asyncio.CancelledError:
        await _stop(proc, reads, grace)
        raise
    finally:
        if proc.returncode is None:  # cancelled again while stopping: no more waiting
            _signal_group(proc.pid, signal.SIGKILL)


async def _stop(proc: asyncio.subprocess.Process, reads: asyncio.Future[Any], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever still runs after `grace` seconds."""
    _signal_group(proc.pid, signal.SIGTERM)
    waiter = asyncio.ensure_future(proc.wait())
    # asyncio.wait never cancels what it waits for, so it behaves even in a cancelled task.
    # The pipes reach EOF only when every process holding them (children too) is gone.
    _, pending = await asyncio.wait([waiter, reads], timeout=grace)
    if pending:
        _signal_group(proc.pid, signal.SIGKILL)
        _, pending = await asyncio.wait(pending, timeout=grace)
    for future in pending:  # only a process that left the group can keep a pipe open
        future.cancel()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _result(request: ShellRequest, code: int, stdout: bytes, stderr: bytes) -> dict[str, Any]:
    out = stdout.decode("utf-8", errors="replace")
    err = stderr.decode("utf-8", errors="replace")
    if code != 0 and request.check:
        raise _exit_failure(request, code, err)
    result: dict[str, Any] = {"stdout": out, "stderr": err, "exit_code": code}
    if request.parse == "json":
        result["json"] = _parse_json(request, out)
    return result


def _exit_failure(request: ShellRequest, code: int, stderr: str) -> StepFailure:
    shown = display(request.command)
    if code < 0:
        name = _signal_name(-code)
        head = f"command {shown} was killed by signal {name}"
        kind = ErrorKind.UNKNOWN
    else:
        note, kind = _EXIT_NOTES.get(code, ("", ErrorKind.UNKNOWN))
        head = f"command {shown} exited with code {code}{note}"
    tail = _stderr_tail(stderr.encode()) or "; it wrote nothing to stderr"
    return StepFailure(head + tail, kind, details=stderr[-_DETAILS_CHARS:] or None)


def _stderr_tail(stderr: bytes) -> str:
    text = stderr.decode("utf-8", errors="replace").rstrip()
    if not text:
        return ""
    lines = text.splitlines()[-_STDERR_LINES:]
    tail = "\n".join(f"  | {line}" for line in lines)[-_TAIL_CHARS:]
    return f"; last lines of stderr:\n{tail}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _parse_json(request: ShellRequest, stdout: str) -> Any:
    try:
        return json.loads(stdout)
    except json.JSONDecodeError as exc:
        start = stdout.strip()[:80]
        raise StepFailure(
            f"command {display(request.command)} was asked for JSON (parse: json) but its "
            f"output is not JSON: {exc}; output starts with {start!r}",
            ErrorKind.VALIDATION,
        ) from None
