"""The workflow definition language as pydantic models (the seeds' YAML, 002 and 004).

Each field's docstring becomes its description in the JSON Schema: `kflow.spec.schema` reads
them from this file's source when asked, which keeps them out of the import's cost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from kflow.spec import coerce
from kflow.spec.durations import parse_duration

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h|d)?\s*)+$"},
    ],
    "description": "Seconds as a number, or text with units: '300s', '5m', '1h30m', '250ms'.",
}


Duration = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0), WithJsonSchema(_DURATION_SCHEMA)
]
Delay = Annotated[
    float, BeforeValidator(parse_duration), Field(ge=0), WithJsonSchema(_DURATION_SCHEMA)
]


def _as_text(value: object) -> object:
    """Accept `version: 1.0` (a YAML float) as the string '1.0'."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text), WithJsonSchema({"type": ["string", "number"]})]


def _names_as_mapping(value: object) -> object:
    """Accept `outputs: [a, b]` as shorthand for `outputs: {a: a, b: b}`."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: v for v in value}
    return value


InputType = Literal[
    "string", "integer", "number", "boolean", "enum", "array", "object", "document", "any"
]
OnFailure = Literal["retry", "escalate", "fail", "continue"]
Backoff = Literal["exponential", "fixed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InputSpec(_Model):
    """A declared workflow input: `name`, `type`, `required`, enum `values`, `default`."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    """The input's name, referenced as `$inputs.<name>`."""
    type: InputType = "string"
    """The value's type; `enum` needs `values`."""
    required: bool = False
    """Whether a run must give this input (when it has no default)."""
    values: Annotated[list[Any] | None, Field(validate_default=True)] = None
    """The allowed values (required for `type: enum`)."""
    default: Any = None
    """The value used when a run does not give this input."""
    description: str | None = None
    """What the input means, for people."""

    @field_validator("values")
    @classmethod
    def _enum_has_values(cls, value: list[Any] | None, info: ValidationInfo) -> list[Any] | None:
        if info.data.get("type") == "enum" and not value:
            raise ValueError("an input of type enum needs a non-empty `values` list")
        return value

    @field_validator("default")
    @classmethod
    def _default_fits(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or "type" not in info.data:
            return value
        return coerce.coerce_value(info.data["type"], info.data.get("values"), value)


class OutputSpec(_Model):
    """A declared workflow output; `from` binds it to a step output reference."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    """The output's name in the run's result."""
    type: str = "any"
    """The value's type, for people and tools (not checked)."""
    from_: str | None = Field(default=None, alias="from")
    """`$steps.<id>.<output>`; without it, the last step (in graph order) with an output
    of this name provides it."""
    description: str | None = None
    """What the output means, for people."""


class RetrySpec(_Model):
    """How a failed step is retried: count and exponential backoff with jitter."""

    max_retries: Annotated[int, Field(ge=0, le=1000)] = 3
    """Attempts after the first one."""
    backoff: Backoff = "exponential"
    """How the delay grows between attempts."""
    initial_delay: Delay = 1.0
    """Delay before the first retry."""
    max_delay: Delay = 60.0
    """The delay never grows past this."""
    multiplier: Annotated[float, Field(ge=1)] = 2.0
    """Growth factor of exponential backoff."""
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Fraction of the delay added at random."""


class ParallelSpec(_Model):
    """Fan a step out over the items of one list input."""

    over: str | None = None
    """The step input (a list) to fan out over; by default its only list input."""
    max_concurrency: Annotated[int, Field(ge=1)] | None = None
    """How many items run at once."""


class StepSpec(_Model):
    """One step: what it runs (`agent`/`action`), its inputs, outputs and policies."""

    id: Annotated[str, Field(pattern=IDENTIFIER, validation_alias=AliasChoices("id", "name"))]
    """The step's unique name (`name` in the task form)."""
    agent: str | None = None
    """The agent that runs `action` (one of its methods)."""
    action: str | None = None
    """`module:function`, a built-in (shell, sleep, echo, noop), or the agent's method."""
    description: str | None = None
    """What the step does, for people."""
    type: str | None = None
    """A free label such as `function` or `service` (the task form)."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    """Named inputs; values may use `$inputs.<name>` and `$steps.<id>.<output>`."""
    outputs: Annotated[dict[str, str], BeforeValidator(_names_as_mapping)] = Field(
        default_factory=dict
    )
    """Output name -> key in the action's result."""
    depends_on: list[str] = Field(default_factory=list)
    """Steps that must finish first (references add dependencies too)."""
    parallel: bool | ParallelSpec = False
    """Run once per item of a list input (`true`, or `{over: input, max_concurrency: n}`)."""
    timeout: Duration | None = None
    """Time limit of one attempt."""
    estimate: Duration | None = None
    """Expected duration of one attempt; weighs the critical path when slots are scarce."""
    retries: Annotated[int, Field(ge=0, le=1000)] | None = None
    """Attempts after the first one."""
    retry: RetrySpec | None = None
    """Full retry policy (count and backoff)."""
    on_failure: OnFailure | None = None
    """What happens when the step fails for good."""
    fallback: str | None = None
    """Action run instead when the step fails (an action of the step's agent, or a built-in
    or `module:function`)."""
    escalation_agent: str | None = None
    """Agent whose `escalate` action handles the failure (`on_failure: escalate`)."""

    @field_validator("depends_on", mode="before")
    @classmethod
    def _one_dependency(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class ErrorHandlingSpec(_Model):
    """A per-step error policy from the workflow's `error_handling` list."""

    step: str
    """The step this policy applies to."""
    on_failure: OnFailure = "retry"
    """What happens when the step fails."""
    max_retries: Annotated[int, Field(ge=0, le=1000)] | None = None
    """Attempts after the first one."""
    backoff: Backoff | None = None
    """How the delay grows between attempts."""
    initial_delay: Delay | None = None
    """Delay before the first retry."""
    max_delay: Delay | None = None
    """The delay never grows past this."""
    fallback: str | None = None
    """Action run when retries are exhausted."""
    escalation_agent: str | None = None
    """Agent that handles the failure (`on_failure: escalate`)."""


class MonitoringSpec(_Model):
    """What the run reports about itself (all on by default)."""

    progress_tracking: bool = True
    """Report progress as steps finish."""
    performance_metrics: bool = True
    """Record timings and counts."""
    audit_trail: bool = True
    """Keep the audit trail of the run."""


class EngineSpec(_Model):
    """How the workflow runs: parallel or sequential, concurrency, timeout, retry defaults."""

    type: Literal["parallel", "sequential"] = "parallel"
    """`sequential` runs one step at a time."""
    max_concurrency: Annotated[
        int,
        Field(ge=1, validation_alias=AliasChoices("max_concurrency", "max_concurrent_tasks")),
    ] = 8
    """How many steps run at once (`max_concurrent_tasks` in the task form)."""
    timeout: Duration | None = None
    """Time limit of the whole run."""
    retry_attempts: Annotated[int, Field(ge=0, le=1000)] = 0
    """Default retries of every step."""
    backoff_strategy: Backoff = "exponential"
    """Default growth of the delay between retries."""


class WorkflowSpec(_Model):
    """A whole workflow definition, immutable once loaded."""

    id: Annotated[str, Field(pattern=IDENTIFIER)] = "workflow"
    """The workflow's name (default: the file's name)."""
    version: Text = "1"
    """The definition's version, for people and run history."""
    description: str | None = None
    """What the workflow does, for people."""
    inputs: list[InputSpec] = Field(default_factory=list)
    """Values a run is started with."""
    outputs: list[OutputSpec] = Field(default_factory=list)
    """Values a finished run returns."""
    steps: Annotated[
        list[StepSpec], Field(min_length=1, validation_alias=AliasChoices("steps", "tasks"))
    ]
    """The steps (`tasks` in the task form)."""
    error_handling: list[ErrorHandlingSpec] = Field(default_factory=list)
    """Per-step failure policies."""
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    """What the run reports."""
    engine: EngineSpec = Field(default_factory=EngineSpec)
    """How the steps are run."""
