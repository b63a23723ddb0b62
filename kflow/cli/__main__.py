"""`python -m kflow.cli` runs the `kflow` command."""

from __future__ import annotations

from kflow.cli.app import main

main()
