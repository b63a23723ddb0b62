"""References and expressions inside workflow definitions."""

from .refs import (
    REFERENCE,
    Interpolation,
    MissingValue,
    Ref,
    Template,
    compile_template,
    is_flat,
    parse_reference,
    references,
    render,
    resolve,
)

__all__ = [
    "REFERENCE",
    "Interpolation",
    "MissingValue",
    "Ref",
    "Template",
    "compile_template",
    "is_flat",
    "parse_reference",
    "references",
    "render",
    "resolve",
]
