"""The JSON Schema for editors: both forms, aliases, descriptions."""

from __future__ import annotations

import json
from typing import Any

from kflow.spec import json_schema


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_the_schema_is_draft_2020_12_json() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema


def test_both_the_bare_and_the_wrapped_form_are_described() -> None:
    schema = json_schema()
    bare, wrapped = schema["anyOf"]
    assert bare == {"$ref": "#/$defs/WorkflowSpec"}
    assert wrapped["properties"]["workflow"] == {"$ref": "#/$defs/WorkflowSpec"}
    assert wrapped["required"] == ["workflow"]


def test_every_reference_resolves() -> None:
    schema = json_schema()
    for ref in refs(schema):
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in schema["$defs"]


def test_the_task_form_spellings_are_accepted_keys() -> None:
    definitions = json_schema()["$defs"]
    assert "tasks" in definitions["WorkflowSpec"]["properties"]
    assert definitions["WorkflowSpec"]["oneOf"] == [
        {"required": ["steps"]},
        {"required": ["tasks"]},
    ]
    assert "name" in definitions["StepSpec"]["properties"]
    assert "max_concurrent_tasks" in definitions["EngineSpec"]["properties"]


def test_every_model_and_field_has_a_description() -> None:
    for name, definition in json_schema()["$defs"].items():
        assert definition.get("description"), name
        for field, spec in definition["properties"].items():
            assert spec.get("description"), f"{name}.{field}"


def test_durations_accept_numbers_and_text_with_units() -> None:
    timeout = json_schema()["$defs"]["StepSpec"]["properties"]["timeout"]
    kinds = json.dumps(timeout)
    assert '"type": "number"' in kinds
    assert '"type": "string"' in kinds
