"""Checking the `$inputs...` and `$steps...` references in step inputs and workflow outputs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kflow.expr import Interpolation, Ref, Template, parse_reference
from kflow.plan.reporter import Reporter
from kflow.spec import suggest
from kflow.spec.models import StepSpec
from kflow.spec.source import Path

_LOOKS_LIKE_REFERENCE = re.compile(r"\$(?:inputs|steps)\b")
_HOW = "write $inputs.<name> or $steps.<step>.<output>"


class ReferenceChecker:
    """Checks references against the declared inputs and the steps and their outputs."""

    def __init__(
        self, inputs: Mapping[str, object], steps: Mapping[str, StepSpec], report: Reporter
    ) -> None:
        self.inputs = inputs
        self.steps = steps
        self.report = report

    def step_inputs(
        self, step: StepSpec, templates: Mapping[str, Template], path: Path
    ) -> set[str]:
        """Report bad references in a step's inputs; return the ids of the steps referenced."""
        referenced: set[str] = set()
        for name, template in templates.items():
            self._walk(step, template, (*path, "inputs", name), referenced)
        return referenced

    def _walk(self, step: StepSpec, template: Any, path: Path, referenced: set[str]) -> None:
        if isinstance(template, Ref):
            self._check(step, template, path, referenced)
        elif isinstance(template, Interpolation):
            for part in template.parts:
                if isinstance(part, Ref):
                    self._check(step, part, path, referenced)
                else:
                    self._malformed(step, part, template, path)
        elif isinstance(template, str):
            self._malformed(step, template, template, path)
        elif isinstance(template, dict):
            for key, value in template.items():
                self._walk(step, value, (*path, key), referenced)
        elif isinstance(template, list):
            for index, value in enumerate(template):
                self._walk(step, value, (*path, index), referenced)

    def _malformed(self, step: StepSpec, text: str, whole: object, path: Path) -> None:
        if _LOOKS_LIKE_REFERENCE.search(text) is None:
            return
        shown = text if isinstance(whole, str) else _text(whole)
        self.report.add(path, f"step {step.id!r}: {shown!r} is not a valid reference", _HOW)

    def _check(self, step: StepSpec, ref: Ref, path: Path, referenced: set[str]) -> None:
        if ref.root == "inputs":
            self._input(f"step {step.id!r}", ref, path)
            return
        target = ref.path[0]
        if target == step.id:
            self.report.add(
                path,
                f"step {step.id!r} refers to its own output in {ref.text}",
                "a step can only use the outputs of other steps",
            )
            return
        if self.output(f"step {step.id!r}", ref, path):
            referenced.add(target)

    def _input(self, owner: str, ref: Ref, path: Path) -> None:
        name = ref.path[0]
        if name in self.inputs or self.report.input_left_out(name):
            return
        declared = list(self.inputs)
        self.report.add(
            path,
            f"{owner}: unknown input {name!r} in {ref.text}{suggest.did_you_mean(name, declared)}",
            f"declared inputs: {suggest.listing(declared)}"
            if declared
            else f"declare it under `inputs:` with `- name: {name}`",
        )

    def output(self, owner: str, ref: Ref, path: Path) -> bool:
        """Check `$steps.<id>.<output>`; True when the step exists (even if left out)."""
        target = ref.path[0]
        spec = self.steps.get(target)
        if spec is None:
            if self.report.step_left_out(target):
                return False
            self.report.add(
                path,
                f"{owner}: unknown step {target!r} in {ref.text}"
                f"{suggest.did_you_mean(target, self.steps)}",
            )
            return False
        name = ref.name
        if name is not None and spec.outputs and name not in spec.outputs:
            self.report.add(
                path,
                f"{owner}: step {target!r} has no output {name!r} in {ref.text}"
                f"{suggest.did_you_mean(name, spec.outputs)}",
                f"{target!r} declares outputs: {suggest.listing(list(spec.outputs))}",
            )
        return True

    def output_source(self, text: str, path: Path, owner: str) -> Ref | None:
        """Parse and check a workflow output's `from:`."""
        ref = parse_reference(text.strip())
        if ref is None or ref.root != "steps" or ref.name is None:
            self.report.add(
                path,
                f"{owner}: `from: {text}` is not a step output reference",
                "write `from: $steps.<step>.<output>`",
            )
            return None
        self.output(owner, ref, path)
        return ref


def _text(template: object) -> str:
    if isinstance(template, Interpolation):
        return "".join(p if isinstance(p, str) else p.text for p in template.parts)
    return str(template)
