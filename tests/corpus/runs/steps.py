"""Step functions for the acceptance tests (imported as `steps` through kflow.toml)."""

from __future__ import annotations

import os
import time
from typing import Any


def greet(name: str, mode: str = "plain") -> dict[str, Any]:
    """A greeting for `name`, shouted when `mode` is loud."""
    text = f"hello, {name}"
    return {"greeting": text.upper() if mode == "loud" else text}


def boom(message: str) -> dict[str, Any]:
    """Always fails with a plain Python exception."""
    raise ValueError(message)


def opaque() -> dict[str, Any]:
    """Returns something the journal cannot store."""
    return {"value": object()}


def complain() -> dict[str, Any]:
    """Fails with a message holding text in square brackets."""
    raise ValueError("cannot read [/etc/kflow-demo.conf]: section [server] is missing")


def gate(path: str) -> dict[str, Any]:
    """Waits (up to 30 s) until the file `path` exists, so a test decides when the step ends."""
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.001)
    return {"opened": path}
