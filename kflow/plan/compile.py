"""Compiling a validated spec into a Plan: actions, references, graph, policies, outputs.

Rules the language leaves to the compiler:

- A step runs `agent` + `action` (the agent's method), a `module:function`, or a
  built-in (shell, sleep, echo, noop). A step with neither `agent` nor `action` (a 004
  task such as `- name: notification`) compiles to a `noop` action, so the seed loads
  and runs; a real action can be added later.
- A step depends on its `depends_on` steps and on every step its inputs reference.
- A workflow output with `from: $steps.<id>.<output>` reads that step output. Without
  `from`, it binds to the last step in topological order whose `outputs` mapping
  declares an output of the same name; if no step does, that is a problem.
- Failure settings merge as described in `kflow.plan.policy`.

Everything is O(V + E) in steps and dependencies (the order adds log V), and every
problem is reported, located, in one SpecError.
"""

from __future__ import annotations

import hashlib
import math

import msgspec

from kflow.errors import SpecError
from kflow.expr import Ref, Template, compile_template, is_flat
from kflow.plan import graph, policy, targets
from kflow.plan.model import FanOut, OutputBinding, Plan, PlanStep
from kflow.plan.references import ReferenceChecker
from kflow.plan.reporter import Reporter
from kflow.spec import suggest
from kflow.spec.durations import parse_duration
from kflow.spec.loader import LoadedSpec
from kflow.spec.models import ErrorHandlingSpec, StepSpec, WorkflowSpec
from kflow.spec.source import Path, SourceMap


def compile_plan(loaded: LoadedSpec | WorkflowSpec) -> Plan:
    """Compile a loaded spec (or a bare WorkflowSpec, whose problems have no location).

    Raises SpecError listing every problem; the rules are in this module's docstring.
    """
    if isinstance(loaded, WorkflowSpec):
        loaded = LoadedSpec(loaded, SourceMap(), "<spec>")
    return _Compiler(loaded).run()


def spec_digest(spec: WorkflowSpec) -> str:
    """sha256 of the spec's canonical JSON: identifies the definition a run used."""
    # msgspec writes the same compact, key-sorted JSON as json.dumps, three times faster.
    canonical = msgspec.json.encode(spec.model_dump(mode="json", by_alias=True), order="sorted")
    return hashlib.sha256(canonical).hexdigest()


PRIORITY_BAND = 0.015
"""The width of a priority band (`priority_band`), as a fraction of the priorities in it."""
_LOG_BAND = math.log1p(PRIORITY_BAND)


def priority_band(seconds: float) -> float:
    """The band of a priority in seconds: a ready queue takes higher bands first and, within
    a band, definition order. Bands are a fixed grid of 1.5% steps (1 <= s < 1.015, ...).

    Estimates are rough, and ordering alike steps strictly by them (a thousand image
    projections, sorted by length) starts them in lockstep, so they end within
    milliseconds of each other: more results than the event loop takes in at once. On
    `dag-10k` their timers ended 0.8 ms late at the median, and the bands took the
    makespan from 1.052x to 1.045x (median of six alternated runs; `docs/benchmarks.md`,
    eleventh session).
    """
    if not math.isfinite(seconds):  # a path of huge estimates can add up to infinity
        return seconds
    return math.floor(math.log(seconds) / _LOG_BAND) if seconds > 0 else -math.inf


class _Compiler:
    def __init__(self, loaded: LoadedSpec) -> None:
        self.spec = loaded.spec
        self.report = Reporter(loaded.source, loaded.filename, loaded.omitted)
        self.index: dict[str, int] = {}
        self.templates: list[dict[str, Template]] = []
        self.ids = [step.id for step in self.spec.steps]
        self.handling: dict[str, tuple[ErrorHandlingSpec, Path]] = {}
        for position, step in enumerate(self.spec.steps):
            self._register(step, position)
        steps = {step_id: self.spec.steps[i] for step_id, i in self.index.items()}
        inputs = {spec.name: spec for spec in self.spec.inputs}
        self.checker = ReferenceChecker(inputs, steps, self.report)

    def _register(self, step: StepSpec, position: int) -> None:
        if step.id not in self.index:
            self.index[step.id] = position
            return
        first = self.report.first_at(("steps", self.index[step.id], "id"))
        self.report.add(
            ("steps", position, "id"),
            f"duplicate step id {step.id!r}{first}",
            "each step needs its own name",
        )

    def run(self) -> Plan:
        spec = self.spec
        deps = [self._dependencies(step, i) for i, step in enumerate(spec.steps)]
        dependents = graph.dependents_of(deps)
        order, stuck = graph.topological_order(deps, dependents)
        self._report_cycles(dependents, stuck)
        self.handling = self._error_handling()
        weights = self._weights()
        lengths = graph.longest_paths(order, dependents, weights)
        steps = {
            step.id: self._step(step, i, deps[i], dependents[i], lengths[i])
            for i, step in enumerate(spec.steps)
        }
        outputs = self._outputs([self.ids[i] for i in order + stuck])
        if self.report.problems:
            raise SpecError(sorted(self.report.problems, key=lambda p: (p.line, p.column)))
        ordered = tuple(self.ids[i] for i in order)
        position = {step_id: i for i, step_id in enumerate(ordered)}
        # Counted in steps, equal paths tie exactly; only estimates in seconds get bands.
        band = priority_band if weights is not None else float
        ranked = tuple(sorted(ordered, key=lambda s: (-band(steps[s].priority), position[s])))
        roots = tuple(step_id for step_id in ordered if not steps[step_id].depends_on)
        plain_roots = {
            step_id: steps[step_id].inputs
            for step_id in ranked
            if step_id in roots and steps[step_id].flat_inputs and not steps[step_id].fan_out
        }
        rank = {step_id: i for i, step_id in enumerate(ranked)}
        return Plan(
            workflow_id=spec.id,
            version=spec.version,
            digest=spec_digest(spec),
            steps=steps,
            order=ordered,
            rank=rank,
            ranked=ranked,
            dependent_rank={
                step_id: min((rank[d] for d in step.dependents), default=len(ranked))
                for step_id, step in steps.items()
            },
            waiting={step_id: len(steps[step_id].depends_on) for step_id in ordered},
            roots=roots,
            plain_roots=plain_roots,
            inputs=tuple(spec.inputs),
            outputs=outputs,
            max_concurrency=1 if spec.engine.type == "sequential" else spec.engine.max_concurrency,
            sequential=spec.engine.type == "sequential",
            timeout=spec.engine.timeout,
            spec=spec,
        )

    def _step(
        self, step: StepSpec, i: int, before: list[int], after: list[int], length: float
    ) -> PlanStep:
        path: Path = ("steps", i)
        entry = self.handling.get(step.id)
        failure = policy.failure_policy(step, path, entry, self.spec.engine, self.report)
        return PlanStep(
            id=step.id,
            action=targets.step_action(step, path, self.report),
            inputs=self.templates[i],
            flat_inputs=is_flat(self.templates[i]),
            outputs=dict(step.outputs),
            depends_on=tuple(self.ids[d] for d in before),
            dependents=tuple(self.ids[d] for d in after),
            fan_out=self._fan_out(step, path),
            retry=failure.retry,
            timeout=step.timeout,
            on_failure=failure.on_failure,
            fallback=failure.fallback,
            escalation=failure.escalation,
            priority=length,
        )

    def _weights(self) -> list[float] | None:
        """Each step's expected duration, for a critical path in seconds rather than steps.

        A step's weight is its `estimate`, else the literal `seconds` of a `sleep`; steps
        with neither weigh the mean of the known ones. With nothing known: None (count steps).
        """
        known = [self._estimate(step, i) for i, step in enumerate(self.spec.steps)]
        given = [w for w in known if w is not None]
        if not given:
            return None
        mean = sum(given) / len(given)
        return [mean if w is None else w for w in known]

    def _estimate(self, step: StepSpec, i: int) -> float | None:
        """The step's `estimate`, else the literal `seconds` of a built-in `sleep` (checked
        here either way, so a wait that could never run is reported with the definition's
        other problems)."""
        # A compiled template is a plain value unless it holds a reference.
        seconds = self.templates[i].get("seconds")
        literal = isinstance(seconds, int | float | str)
        if step.action != "sleep" or step.agent is not None or not literal:
            return step.estimate
        try:
            parsed = parse_duration(seconds)
        except ValueError as exc:
            parsed = exc
        if isinstance(parsed, float) and parsed >= 0:
            return parsed if step.estimate is None else step.estimate
        problem = parsed if isinstance(parsed, ValueError) else f"{seconds!r} is below zero"
        self.report.add(
            ("steps", i, "inputs", "seconds"),
            f"steps[{i}].inputs.seconds: {problem}",
            "sleep takes seconds >= 0, as a number or with units, e.g. 30, '250ms', '5m'",
        )
        return step.estimate

    def _dependencies(self, step: StepSpec, i: int) -> list[int]:
        """Explicit `depends_on` and referenced steps, in definition order."""
        templates = {name: compile_template(value) for name, value in step.inputs.items()}
        self.templates.append(templates)
        wanted = self.checker.step_inputs(step, templates, ("steps", i))
        for k, dependency in enumerate(step.depends_on):
            where: Path = ("steps", i, "depends_on", k)
            if dependency == step.id:
                self.report.add(where, f"step {step.id!r} depends on itself")
            elif dependency in self.index:
                wanted.add(dependency)
            elif not self.report.step_left_out(dependency):
                self.report.add(
                    where,
                    f"step {step.id!r} depends on unknown step {dependency!r}"
                    f"{suggest.did_you_mean(dependency, self.index)}",
                )
        return sorted(self.index[w] for w in wanted)

    def _report_cycles(self, dependents: list[list[int]], stuck: list[int]) -> None:
        for cycle in graph.find_cycles(dependents, stuck):
            names = " -> ".join(self.spec.steps[i].id for i in cycle)
            self.report.add(
                ("steps", cycle[0]),
                f"steps form a cycle: {names}",
                "a step cannot wait, directly or not, for itself: remove one of these "
                "dependencies (a `depends_on` entry or a $steps reference)",
            )

    def _error_handling(self) -> dict[str, tuple[ErrorHandlingSpec, Path]]:
        entries: dict[str, tuple[ErrorHandlingSpec, Path]] = {}
        for j, entry in enumerate(self.spec.error_handling):
            path: Path = ("error_handling", j)
            if entry.step in entries:
                first = self.report.first_at(entries[entry.step][1])
                self.report.add(
                    (*path, "step"),
                    f"duplicate error_handling entry for step {entry.step!r}{first}",
                    "merge the two entries into one",
                )
            elif entry.step in self.index:
                entries[entry.step] = (entry, path)
            elif not self.report.step_left_out(entry.step):
                self.report.add(
                    (*path, "step"),
                    f"error_handling names unknown step {entry.step!r}"
                    f"{suggest.did_you_mean(entry.step, self.index)}",
                    f"steps: {suggest.listing(list(self.index))}",
                )
        return entries

    def _fan_out(self, step: StepSpec, path: Path) -> FanOut | None:
        if step.parallel is False:
            return None
        if step.parallel is True:
            over, limit, where = None, None, (*path, "parallel")
        else:
            over, limit = step.parallel.over, step.parallel.max_concurrency
            where = (*path, "parallel", "over") if over is not None else (*path, "parallel")
        if over is not None and over not in step.inputs:
            self.report.add(
                where,
                f"step {step.id!r} fans out over {over!r}, which is not one of its inputs"
                f"{suggest.did_you_mean(over, step.inputs)}",
                f"its inputs: {suggest.listing(list(step.inputs))}",
            )
        elif not step.inputs:
            self.report.add(
                where,
                f"step {step.id!r} is parallel but has no inputs to fan out over",
                "give it a list input, or remove `parallel`",
            )
        return FanOut(over, limit)

    def _outputs(self, order: list[str]) -> tuple[OutputBinding, ...]:
        producer: dict[str, str] = {}
        for step_id in order:
            for name in self.spec.steps[self.index[step_id]].outputs:
                producer[name] = step_id  # later steps in the order win
        bindings = []
        for k, output in enumerate(self.spec.outputs):
            owner = f"output {output.name!r}"
            if output.from_ is not None:
                ref = self.checker.output_source(output.from_, ("outputs", k, "from"), owner)
                if ref is not None:
                    bindings.append(OutputBinding(output.name, ref))
            elif output.name in producer:
                ref = Ref("steps", (producer[output.name], output.name))
                bindings.append(OutputBinding(output.name, ref))
            elif not self.report.omitted.outputs_incomplete:
                self.report.add(
                    ("outputs", k, "name"),
                    f"output {output.name!r} is not produced by any step; "
                    "add `from: $steps.<id>.<output>`",
                    "or declare the output in a step's `outputs:`",
                )
        return tuple(bindings)
