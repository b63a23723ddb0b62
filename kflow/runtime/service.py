"""The front door: create, execute, pause, resume, cancel and inspect runs.

The CLI, the Python API (`kflow.Engine`) and later the HTTP API all call this
one service. It mirrors the seeds' `WorkflowEngine` interface.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kflow.actions import KflowConfig, find_config
from kflow.engine import events as ev
from kflow.engine.machine import RunMachine
from kflow.engine.state import RunState, RunStatus
from kflow.errors import LeaseChanged, RunStateError
from kflow.plan import Plan, compile_plan, load_plan
from kflow.runtime import queries
from kflow.runtime.definitions import Definitions, Environment
from kflow.runtime.leases import is_live
from kflow.runtime.views import RunView, run_view
from kflow.runtime.worker import Observer, Worker
from kflow.spec.inputs import bind_inputs
from kflow.spec.models import WorkflowSpec
from kflow.store.protocol import Entry, JournalStore, RunSummary

Workflow = str | Path | WorkflowSpec | Plan
CONTROL_WAIT_SECONDS = 10.0
_CONTROL_ATTEMPTS = 3
"""Times a pause, resume or cancel looks again when the run changes hands under it."""
DEFAULT_MAX_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended."""

    run_id: str
    status: str
    outputs: dict[str, Any] | None
    error: str | None
    failed_step: str | None

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "succeeded"


class Service:
    """Creates and controls runs in one journal store."""

    def __init__(self, store: JournalStore, config: KflowConfig | None = None) -> None:
        self.store = store
        self.config = config
        self.definitions = Definitions(store.definition)
        self._compiled: dict[int, tuple[WorkflowSpec, Plan]] = {}

    # -- definitions ------------------------------------------------------

    def load(self, workflow: Workflow) -> Plan:
        """Compile a workflow given as a file path, a spec or an already compiled plan."""
        if isinstance(workflow, Plan):
            plan = workflow
        elif isinstance(workflow, WorkflowSpec):
            # Specs are immutable, so one compiled plan serves every run of the same object.
            cached = self._compiled.get(id(workflow))
            if cached is None or cached[0] is not workflow:
                cached = self._compiled[id(workflow)] = (workflow, compile_plan(workflow))
            plan = cached[1]
        else:
            plan = load_plan(Path(workflow))
        self.definitions.remember(plan)
        return plan

    def config_for(self, workflow: Workflow) -> KflowConfig:
        """The config that applies: the one given, else `kflow.toml` in cwd or beside the file."""
        return self.config if self.config is not None else find_config(workflow)

    # -- lifecycle ----------------------------------------------------------

    async def create(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
    ) -> str:
        """Validate inputs and record a new run; returns its id. Nothing runs yet."""
        return (await self.create_many(workflow, [inputs or {}], max_concurrency=max_concurrency))[
            0
        ]

    async def create_many(
        self,
        workflow: Workflow,
        inputs: Sequence[Mapping[str, Any]],
        *,
        max_concurrency: int | None = None,
    ) -> list[str]:
        """Record one run per inputs mapping, all in one transaction; returns their ids.

        Every mapping is checked first: if one is invalid, no run is stored.
        """
        entries, definitions = self._create(workflow, inputs, max_concurrency)
        self.store.append(entries, definitions)
        return [entry.run_id for entry in entries]

    def _create(
        self,
        workflow: Workflow,
        inputs: Sequence[Mapping[str, Any]],
        max_concurrency: int | None,
    ) -> tuple[list[Entry], dict[str, bytes]]:
        """The first entries of new runs, and the spec they refer to by digest; nothing is
        stored yet. Raises InputError if any inputs mapping is invalid."""
        plan = self.load(workflow)
        config = self.config_for(workflow)
        bound = [bind_inputs(plan.inputs, dict(given)) for given in inputs]
        definition = plan.spec.model_dump_json(by_alias=True, exclude_unset=True).encode()
        environment = Environment.from_config(config).to_json()
        concurrency = self._concurrency(plan, config, max_concurrency)
        entries = []
        for values in bound:
            run_id = new_run_id()
            created = ev.RunCreated(
                at=time.time(),
                run_id=run_id,
                workflow_id=plan.workflow_id,
                version=plan.version,
                digest=plan.digest,
                inputs=values,
                max_concurrency=concurrency,
                environment=environment,
            )
            entries.append(Entry(run_id, 0, created, ev.encode(created)))
        return entries, {plan.digest: definition}

    @staticmethod
    def _concurrency(plan: Plan, config: KflowConfig, requested: int | None) -> int:
        if requested is not None:
            if requested < 1:
                raise ValueError(f"max_concurrency must be at least 1, not {requested}")
            return requested
        if "max_concurrency" in plan.spec.engine.model_fields_set:
            return plan.max_concurrency
        configured = config.engine.get("max_concurrency")
        return int(configured) if configured else DEFAULT_MAX_CONCURRENCY

    async def execute(
        self, run_ids: Sequence[str], observers: Sequence[Observer] = ()
    ) -> list[RunResult]:
        """Execute runs in this process until each has ended."""
        return await self._execute(self.store.resolve_ids(run_ids), observers)

    async def _execute(
        self,
        run_ids: Sequence[str],
        observers: Sequence[Observer],
        created: Sequence[Entry] = (),
        definitions: Mapping[str, bytes] | None = None,
    ) -> list[RunResult]:
        """Execute runs by full id; `created` are the first entries of runs made here and
        not stored yet, with the specs they refer to (see `Worker.adopt`)."""
        async with Worker(self.store, self.definitions, observers) as worker:
            worker.adopt(run_ids, created, definitions)
            await worker.wait(run_ids)
            return [_result(worker.drivers[r].machine) for r in run_ids]

    async def run(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int | None = None,
        observers: Sequence[Observer] = (),
    ) -> RunResult:
        """Create a run and execute it to the end.

        The run is stored with its first starts, in one transaction: its id reaches no
        one before, so it need not exist apart from them.
        """
        created, definitions = self._create(workflow, [inputs or {}], max_concurrency)
        return (await self._execute([created[0].run_id], observers, created, definitions))[0]

    async def run_many(
        self,
        workflow: Workflow,
        inputs: Sequence[Mapping[str, Any]],
        *,
        max_concurrency: int | None = None,
        observers: Sequence[Observer] = (),
    ) -> list[RunResult]:
        """Create one run per inputs mapping and execute them all concurrently (stored with
        their first starts, as in `run`)."""
        created, definitions = self._create(workflow, inputs, max_concurrency)
        run_ids = [entry.run_id for entry in created]
        return await self._execute(run_ids, observers, created, definitions)

    async def recover(self, observers: Sequence[Observer] = ()) -> list[RunResult]:
        """Continue every unfinished run that no live worker owns (paused runs stay paused)."""
        now = time.time()
        running = [r.run_id for r in self.store.list_runs("running", limit=1_000_000)]
        leases = self.store.leases_of(running)
        orphans = [r for r in running if not is_live(leases.get(r), now)]
        if not orphans:
            return []
        return await self.execute(orphans, observers)

    async def resume_here(self, run_id: str) -> bool:
        """Make a run ready to execute in this process; False if its live worker resumed it.

        A paused run is resumed; an interrupted one (no live worker) needs nothing.
        Raises RunStateError for a finished run or one another process is executing.
        """
        view = self.status(run_id)
        if view.status == "paused":
            return await self.resume(view.run_id) != "requested"
        if view.status != "running":
            raise RunStateError(
                f"run '{view.run_id}' {_ended(view.status)}; there is nothing to resume"
            )
        if view.live:
            raise RunStateError(f"run '{view.run_id}' is already being executed by another process")
        return True

    async def pause(self, run_id: str, reason: str = "") -> str:
        """Stop starting new steps; running steps finish. Returns `requested` or `paused`."""
        return await self._control(run_id, "pause", reason)

    async def resume(self, run_id: str) -> str:
        """Let a paused run go on. Returns `requested` (a worker owns it) or `resumed`."""
        return await self._control(run_id, "resume", "")

    async def cancel(self, run_id: str, reason: str = "") -> str:
        """Cancel a run; running steps are abandoned. Returns `requested` or `cancelled`."""
        return await self._control(run_id, "cancel", reason)

    async def _control(self, run_id: str, action: str, reason: str) -> str:
        run_id = self.store.resolve_id(run_id)
        for _ in range(_CONTROL_ATTEMPTS):
            events = self.store.read(run_id)
            _check_allowed(run_id, self.definitions.machine(events).state.status, action)
            lease = self.store.lease(run_id)
            if is_live(lease, time.time()):
                request = self.store.request(run_id, action, reason, time.time())
                if await self._await_handled(run_id, request):
                    now_events = self.store.read(run_id)
                    status = self.definitions.machine(now_events).state.status
                    _check_applied(run_id, now_events[len(events) :], status, action)
                    return "requested"
                # The worker stopped before it saw the request: carry it out here.
                self.store.mark_handled([request], time.time())
                continue
            event = _control_event(action, reason, time.time())
            entry = Entry(run_id, len(events), event, ev.encode(event))
            try:
                # Only if no worker took the run since its lease was read: one adopting it
                # reads the journal after taking the lease, so it sees this event, and never
                # appends where this one went (which would stop that worker).
                self.store.append([entry], holders={run_id: lease.owner if lease else None})
            except LeaseChanged:
                continue  # a worker took the run meanwhile: ask it instead
            return {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
        raise RunStateError(
            f"run '{run_id}' changed hands {_CONTROL_ATTEMPTS} times while being controlled "
            "(workers taking it over and stopping); try again"
        )

    async def _await_handled(self, run_id: str, request: int) -> bool:
        """Wait for the owner to carry out a request; False if the owner is gone."""
        deadline = time.monotonic() + CONTROL_WAIT_SECONDS
        while not self.store.is_handled(request):
            if not is_live(self.store.lease(run_id), time.time()):
                return self.store.is_handled(request)
            if time.monotonic() > deadline:
                raise RunStateError(
                    f"the worker executing run '{run_id}' did not answer within "
                    f"{CONTROL_WAIT_SECONDS:g}s (it may be overloaded); the request stays "
                    "queued and is carried out when the worker next looks"
                )
            await asyncio.sleep(0.05)
        return True

    # -- inspection ---------------------------------------------------------

    def fold(self, run_id: str) -> RunMachine:
        """The engine state of a run, rebuilt from its journal."""
        return self.definitions.machine(self.store.read(self.store.resolve_id(run_id)))

    def status(self, run_id: str) -> RunView:
        """The run's current state, with whether a worker is executing it."""
        machine = self.fold(run_id)
        live = is_live(self.store.lease(machine.state.run_id), time.time())
        return run_view(machine, live=live)

    def history(self, run_id: str) -> list[ev.AnyEvent]:
        """The run's journal, in order."""
        return queries.history(self.store, run_id)

    def runs(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first."""
        return queries.runs(self.store, status, limit)


def new_run_id() -> str:
    """An id that sorts by creation time: 11 hex digits of ms, then 8 random ones.

    Thousands of runs may be created in one millisecond; 32 random bits keep them apart.
    """
    return f"{int(time.time() * 1000):011x}{os.urandom(4).hex()}"


def _result(machine: RunMachine) -> RunResult:
    state = machine.state
    return RunResult(
        run_id=state.run_id,
        status=state.status.value,
        outputs=state.outputs,
        error=state.error.message if state.error else _cancel_reason(state),
        failed_step=state.failed_step,
    )


def _cancel_reason(state: RunState) -> str | None:
    if state.status is RunStatus.CANCELLED:
        return state.reason or "cancelled"
    return None


def _ended(status: str) -> str:
    """`has already succeeded`, `has already been cancelled`, ..."""
    return "has already been cancelled" if status == "cancelled" else f"has already {status}"


def _check_allowed(run_id: str, status: RunStatus, action: str) -> None:
    if status.finished:
        raise RunStateError(f"run '{run_id}' {_ended(status.value)}; nothing to {action}")
    if action == "resume" and status is not RunStatus.PAUSED:
        raise RunStateError(
            f"run '{run_id}' is not paused; to continue an interrupted run use `kflow resume` "
            "(it executes the run) or `kflow recover`"
        )
    if action == "pause" and status is RunStatus.PAUSED:
        raise RunStateError(f"run '{run_id}' is already paused")


_CONTROL_EVENTS = {"pause": ev.RunPaused, "resume": ev.RunResumed, "cancel": ev.RunCancelled}


def _check_applied(
    run_id: str, appended: list[ev.AnyEvent], status: RunStatus, action: str
) -> None:
    """Raise if the run ended on its own before the worker carried out the request (a run
    may also end just after: it ran to its end once resumed)."""
    if any(isinstance(e, _CONTROL_EVENTS[action]) for e in appended):
        return
    if status.finished:
        raise RunStateError(
            f"run '{run_id}' {_ended(status.value)} before the {action} request reached it"
        )


def _control_event(action: str, reason: str, at: float) -> ev.AnyEvent:
    if action == "pause":
        return ev.RunPaused(at=at, reason=reason)
    if action == "resume":
        return ev.RunResumed(at=at)
    return ev.RunCancelled(at=at, reason=reason)
