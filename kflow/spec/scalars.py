"""Typing YAML scalars the way PyYAML's SafeLoader does, without building nodes for them."""

from __future__ import annotations

import functools
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

_Y = "tag:yaml.org,2002:"
_STR = _Y + "str"
_TYPED = {
    _Y + "int": "integer",
    _Y + "float": "number",
    _Y + "bool": "boolean",
    _Y + "null": "null",
}
# Timestamps stay text: a date in a step input should reach the action as written.
_AS_TEXT = frozenset({_STR, _Y + "timestamp", _Y + "merge", _Y + "value", _Y + "yaml"})
_IMPLICIT = Resolver.yaml_implicit_resolvers
_ANY_START = _IMPLICIT.get(None, [])
_CONSTRUCTOR = SafeConstructor()  # its scalar constructors keep no state


class BadScalar(ValueError):
    """A scalar whose tag is unsupported or whose text does not fit its tag."""


def read(event: yaml.ScalarEvent) -> Any:
    """The scalar's value; raises BadScalar (the text is then the value to keep)."""
    tag = event.tag
    if tag is None or tag == "!":
        if not event.implicit[0]:
            return event.value  # quoted: always a string
        tag = implicit_tag(event.value)
    if tag in _AS_TEXT:
        return event.value
    what = _TYPED.get(tag)
    if what is None:
        raise BadScalar(f"unsupported YAML tag {tag!r} on value {event.value!r}")
    try:
        node = yaml.ScalarNode(tag, event.value)
        return SafeConstructor.yaml_constructors[tag](_CONSTRUCTOR, node)
    except (ValueError, KeyError, OverflowError, yaml.YAMLError):
        raise BadScalar(f"{event.value!r} is not a valid {what}") from None


# Definitions repeat their words (keys' values, agents, `$inputs.x`): resolving each
# through PyYAML's regular expressions once per process, not once per occurrence,
# is most of what reading a scalar costs.
@functools.lru_cache(maxsize=4096)
def implicit_tag(value: str) -> str:
    """The implicit tag of a plain scalar, as PyYAML's SafeLoader resolves it."""
    for tag, pattern in [*_IMPLICIT.get(value[:1] if value else "", []), *_ANY_START]:
        if pattern.match(value):
            return str(tag)
    return _STR
