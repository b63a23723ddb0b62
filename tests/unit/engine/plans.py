"""Small plans and helpers shared by the engine tests."""

from __future__ import annotations

from typing import Any

import msgspec

from kflow.engine import commands as cmd
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.plan import Plan, load_plan

DIAMOND = """
id: diamond
inputs:
  - {name: n, type: integer, default: 1}
outputs:
  - {name: total, from: $steps.join.total}
steps:
  - {id: a, action: echo, inputs: {value: $inputs.n}, outputs: {value: value}}
  - {id: b, action: echo, inputs: {value: $steps.a.value}, outputs: {value: value}}
  - {id: c, action: echo, inputs: {value: $steps.a.value}, outputs: {value: value}}
  - id: join
    action: echo
    inputs: {left: $steps.b.value, right: $steps.c.value}
    outputs: {total: left}
"""


def plan_of(text: str) -> Plan:
    """Compile a YAML definition."""
    return load_plan(text, "test.yaml")


def new_machine(
    plan: Plan, inputs: dict[str, Any] | None = None, concurrency: int = 8
) -> RunMachine:
    """A machine for a fresh run of `plan`."""
    created = ev.RunCreated(
        at=0.0,
        run_id="run1",
        workflow_id=plan.workflow_id,
        version=plan.version,
        digest=plan.digest,
        definition=msgspec.Raw(b"{}"),
        inputs=inputs or {},
        max_concurrency=concurrency,
    )
    return RunMachine(plan, created)


def start(machine: RunMachine, command: cmd.Start, at: float = 1.0) -> ev.StepStarted:
    """Fold the StepStarted event the runtime would record for `command`."""
    event = ev.StepStarted(
        at=at,
        step=command.step,
        index=command.index,
        attempt=command.attempt,
        variant=command.variant,
    )
    machine.apply(event)
    return event


def starts(commands: list[cmd.Command]) -> list[cmd.Start]:
    """The Start commands among `commands`."""
    return [c for c in commands if isinstance(c, cmd.Start)]


def records(commands: list[cmd.Command]) -> list[ev.AnyEvent]:
    """The events the engine asked to record."""
    return [c.event for c in commands if isinstance(c, cmd.Record)]


def echo_all(machine: RunMachine, now: float = 1.0, limit: int = 10_000) -> list[ev.AnyEvent]:
    """Run the machine to the end, answering every Start with its inputs (like `echo`)."""
    journal: list[ev.AnyEvent] = []
    for _ in range(limit):
        commands = machine.decide(now)
        if not commands or all(isinstance(c, cmd.WakeAt) for c in commands):
            if commands:
                now = max(c.at for c in commands if isinstance(c, cmd.WakeAt))
                continue
            return journal
        for command in commands:
            if isinstance(command, cmd.Start):
                journal.append(start(machine, command, now))
                done = machine.succeeded(command, dict(command.inputs), now)
                machine.apply(done)
                journal.append(done)
            elif isinstance(command, cmd.Record):
                machine.apply(command.event)
                journal.append(command.event)
    raise AssertionError("the machine did not finish")
