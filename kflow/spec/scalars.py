"""Typing YAML scalars the way PyYAML's SafeLoader does, without building nodes for them."""

from __future__ import annotations

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


class BadScalar(ValueError):
    """A scalar whose tag is unsupported or whose text does not fit its tag."""


class Scalars:
    """Reads scalar events into str, int, float, bool or None; caches tag resolution."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.constructor = SafeConstructor()

    def read(self, event: yaml.ScalarEvent) -> Any:
        """The scalar's value; raises BadScalar (the text is then the value to keep)."""
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return event.value  # quoted: always a string
            tag = self.resolve(event.value)
        if tag in _AS_TEXT:
            return event.value
        what = _TYPED.get(tag)
        if what is None:
            raise BadScalar(f"unsupported YAML tag {tag!r} on value {event.value!r}")
        try:
            node = yaml.ScalarNode(tag, event.value)
            return SafeConstructor.yaml_constructors[tag](self.constructor, node)
        except (ValueError, KeyError, OverflowError, yaml.YAMLError):
            raise BadScalar(f"{event.value!r} is not a valid {what}") from None

    def resolve(self, value: str) -> str:
        """The implicit tag of a plain scalar, as PyYAML's SafeLoader resolves it."""
        tag = self.tags.get(value)
        if tag is None:
            tag = _STR
            candidates = _IMPLICIT.get(value[:1] if value else "", [])
            for candidate, pattern in [*candidates, *_IMPLICIT.get(None, [])]:
                if pattern.match(value):
                    tag = candidate
                    break
            self.tags[value] = tag
        return tag
