"""A JSON Schema (draft 2020-12) of the workflow language, for editors."""

from __future__ import annotations

import ast
import copy
import functools
import inspect
from typing import Any

from kflow.spec import models
from kflow.spec.models import WorkflowSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The second spellings the loader accepts (the seeds' 004 task form): model -> (alias, field).
_ALIASES = {
    "WorkflowSpec": ("tasks", "steps"),
    "StepSpec": ("name", "id"),
    "EngineSpec": ("max_concurrent_tasks", "max_concurrency"),
}


def json_schema() -> dict[str, Any]:
    """The schema of a definition file: the workflow mapping, or it under `workflow:`."""
    workflow = WorkflowSpec.model_json_schema(mode="validation")
    definitions: dict[str, Any] = workflow.pop("$defs")
    definitions["WorkflowSpec"] = workflow
    for name, definition in definitions.items():
        _describe_fields(name, definition)
    for name, (alias, field) in _ALIASES.items():
        _add_alias(definitions[name], alias, field)
    _loosen_step(definitions["StepSpec"]["properties"])
    return {
        "$schema": DIALECT,
        "title": "kflow workflow definition",
        "description": (
            "A kflow workflow: inputs, outputs, steps and policies. Write the mapping "
            "itself, or put it under a top-level `workflow:` key."
        ),
        "anyOf": [
            {"$ref": "#/$defs/WorkflowSpec"},
            {
                "title": "Wrapped",
                "description": "The definition under a top-level `workflow:` key.",
                "type": "object",
                "properties": {"workflow": {"$ref": "#/$defs/WorkflowSpec"}},
                "required": ["workflow"],
                "additionalProperties": False,
            },
        ],
        "$defs": definitions,
    }


def _describe_fields(model_name: str, definition: dict[str, Any]) -> None:
    """Give each property its field's docstring as description."""
    docs = _field_docs().get(model_name, {})
    fields = getattr(models, model_name).model_fields
    for name, info in fields.items():
        spelled = info.alias or name
        if spelled in definition["properties"] and name in docs:
            definition["properties"][spelled].setdefault("description", docs[name])


@functools.cache
def _field_docs() -> dict[str, dict[str, str]]:
    """The docstrings under the fields of each model in `kflow.spec.models`, by class."""
    docs: dict[str, dict[str, str]] = {}
    for node in ast.parse(inspect.getsource(models)).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = docs.setdefault(node.name, {})
        for field, doc in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)
            ):
                fields[field.target.id] = inspect.cleandoc(doc.value.value)
    return docs


def _add_alias(model: dict[str, Any], alias: str, field: str) -> None:
    """Accept `alias` as another name of `field`, requiring one of them if `field` is."""
    properties = model["properties"]
    properties[alias] = copy.deepcopy(properties[field])
    properties[alias]["title"] = alias.replace("_", " ").title()
    properties[alias]["description"] = f"Another name of `{field}`."
    required = model.get("required", [])
    if field in required:
        required.remove(field)
        model["oneOf"] = [{"required": [field]}, {"required": [alias]}]
        if not required:
            del model["required"]


def _loosen_step(properties: dict[str, Any]) -> None:
    """Shorthands the models accept before validation: `depends_on: a`, `outputs: [a, b]`."""
    depends_on = properties["depends_on"]
    properties["depends_on"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": depends_on["description"],
        "title": depends_on["title"],
    }
    outputs = properties["outputs"]
    properties["outputs"] = {
        "anyOf": [
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"type": "array", "items": {"type": "string"}},
        ],
        "description": outputs["description"],
        "title": outputs["title"],
    }
