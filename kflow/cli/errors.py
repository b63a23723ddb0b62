"""How the CLI reports errors: the message and its causes, a traceback only with -v."""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

from kflow.errors import InputError, KflowError, SpecError

EXIT_FAILED = 1
EXIT_INVALID = 2


class UsageError(KflowError):
    """The command line asks for something that cannot be done."""


def fail(message: str) -> NoReturn:
    """Stop the command with a message for the user."""
    raise UsageError(message)


def exit_with(error: KflowError, *, verbose: bool) -> NoReturn:
    """Print `error` and the chain of its causes, then exit 2 for bad input, 1 otherwise."""
    if verbose:
        traceback.print_exception(error, file=sys.stderr)
    lines = [f"error: {error}"]
    cause = error.__cause__
    while cause is not None:
        lines.append(f"  caused by {type(cause).__name__}: {cause}")
        cause = cause.__cause__
    sys.stderr.write("\n".join(lines) + "\n")
    invalid = isinstance(error, SpecError | InputError | UsageError)
    sys.exit(EXIT_INVALID if invalid else EXIT_FAILED)
