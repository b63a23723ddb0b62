"""`kflow schema`: a JSON Schema of the workflow language that real workflows satisfy."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.acceptance.conftest import EXAMPLES, KFLOW, REPO, Kflow, base_env

pytestmark = pytest.mark.timeout(30)

VALID = REPO / "tests" / "corpus" / "valid"
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class MiniValidator:
    """Just enough of JSON Schema 2020-12 for the keywords `kflow schema` uses.

    (No JSON Schema library is a dependency of kflow, so the tests carry this one.)
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def errors(self, value: Any) -> list[str]:
        """Where `value` breaks the schema; empty if it satisfies it."""
        return list(self._check(self.schema, value, "$"))

    def _resolve(self, ref: str) -> dict[str, Any]:
        assert ref.startswith("#/"), ref
        node: Any = self.schema
        for part in ref[2:].split("/"):
            node = node[part]
        assert isinstance(node, dict)
        return node

    def _check(self, schema: dict[str, Any], value: Any, at: str) -> Iterator[str]:
        if "$ref" in schema:
            yield from self._check(self._resolve(schema["$ref"]), value, at)
        if "type" in schema and not _is_type(value, schema["type"]):
            yield f"{at}: {value!r} is not of type {schema['type']}"
            return
        if "enum" in schema and value not in schema["enum"]:
            yield f"{at}: {value!r} is not one of {schema['enum']}"
        if "anyOf" in schema and not any(
            not list(self._check(s, value, at)) for s in schema["anyOf"]
        ):
            yield f"{at}: {value!r} matches none of anyOf"
        if "oneOf" in schema:
            matches = sum(not list(self._check(s, value, at)) for s in schema["oneOf"])
            if matches != 1:
                yield f"{at}: {value!r} matches {matches} of oneOf, not exactly one"
        if isinstance(value, str) and not re.search(schema.get("pattern", ""), value):
            yield f"{at}: {value!r} does not match {schema['pattern']}"
        if _is_type(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                yield f"{at}: {value!r} is below {schema['minimum']}"
            if "maximum" in schema and value > schema["maximum"]:
                yield f"{at}: {value!r} is above {schema['maximum']}"
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                yield f"{at}: fewer than {schema['minItems']} items"
            if "items" in schema:
                for i, item in enumerate(value):
                    yield from self._check(schema["items"], item, f"{at}[{i}]")
        if isinstance(value, dict):
            yield from self._check_object(schema, value, at)

    def _check_object(
        self, schema: dict[str, Any], value: dict[str, Any], at: str
    ) -> Iterator[str]:
        for key in schema.get("required", []):
            if key not in value:
                yield f"{at}: missing required key {key!r}"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                yield from self._check(properties[key], item, f"{at}.{key}")
            elif extra is False:
                yield f"{at}: unknown key {key!r}"
            elif isinstance(extra, dict):
                yield from self._check(extra, item, f"{at}.{key}")


def _is_type(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    for name in names:
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, _TYPES[name]):
            return True
    return False


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema `kflow schema` prints, fetched once for the module."""
    done = subprocess.run(
        [*KFLOW, "schema"], capture_output=True, text=True, env=base_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _workflow_files() -> list[Path]:
    own = REPO / "tests" / "corpus" / "runs"
    broken_on_purpose = {"malformed.yaml", "invalid.yaml"}
    return [
        *sorted(EXAMPLES.glob("*.yaml")),
        *sorted(VALID.glob("*.yaml")),
        *sorted(p for p in own.glob("*.yaml") if p.name not in broken_on_purpose),
    ]


def test_schema_prints_a_draft_2020_12_json_schema_and_exits_0(kflow: Kflow) -> None:
    result = kflow("schema", db=False)
    assert result.code == 0, result
    data = result.json()
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"WorkflowSpec", "StepSpec", "InputSpec", "OutputSpec"} <= set(data["$defs"])
    assert result.stderr == ""


def test_every_reference_in_the_schema_points_to_a_definition(schema: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    assert refs
    for ref in refs:
        name = ref.removeprefix("#/$defs/")
        assert name in schema["$defs"], ref


@pytest.mark.parametrize("file", _workflow_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_examples_and_valid_workflows_satisfy_the_schema(
    schema: dict[str, Any], file: Path
) -> None:
    document = yaml.safe_load(file.read_text(encoding="utf-8"))
    assert MiniValidator(schema).errors(document) == []


def test_the_schema_rejects_a_misspelt_key_and_a_bad_enum_value(schema: dict[str, Any]) -> None:
    validator = MiniValidator(schema)
    assert validator.errors({"steps": [{"id": "a", "action": "echo"}]}) == []
    assert validator.errors({"steps": [{"id": "a", "acton": "echo"}]})
    assert validator.errors({"steps": [{"id": "a", "on_failure": "explode"}]})
    assert validator.errors({"id": "no steps"})
    assert validator.errors({"workflow": {"steps": [{"id": "a"}]}, "extra": 1})
