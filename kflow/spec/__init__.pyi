"""The workflow definition language: models, YAML loading and validation, JSON Schema."""

from .durations import parse_duration
from .inputs import bind_inputs, parse_cli_inputs
from .loader import (
    LoadedSpec,
    SpecReading,
    default_id,
    load_spec,
    load_spec_file,
    read_spec,
    read_text,
)
from .models import (
    EngineSpec,
    ErrorHandlingSpec,
    InputSpec,
    MonitoringSpec,
    OutputSpec,
    ParallelSpec,
    RetrySpec,
    StepSpec,
    WorkflowSpec,
)
from .salvage import Omitted
from .schema import json_schema
from .source import Location, SourceMap

__all__ = [
    "EngineSpec",
    "ErrorHandlingSpec",
    "InputSpec",
    "LoadedSpec",
    "Location",
    "MonitoringSpec",
    "Omitted",
    "OutputSpec",
    "ParallelSpec",
    "RetrySpec",
    "SourceMap",
    "SpecReading",
    "StepSpec",
    "WorkflowSpec",
    "bind_inputs",
    "default_id",
    "json_schema",
    "load_spec",
    "load_spec_file",
    "parse_cli_inputs",
    "parse_duration",
    "read_spec",
    "read_text",
]
