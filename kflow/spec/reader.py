"""Reading YAML text into plain data and a SourceMap in one pass over libyaml's events.

PyYAML's composer builds a Python node per value and resolves each scalar's tag in
Python; consuming the C parser's events directly is several times faster. Only
JSON-like values come out (str, int, float, bool, None, list, dict with str keys):
mapping keys are kept as written (so `on:` stays 'on'); scalars are typed by
`kflow.spec.scalars`. Aliases share the anchored value instead of copying it, and
their expanded size and depth are capped, so an alias bomb is an error, not a hang.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from kflow.errors import Problem
from kflow.spec import scalars
from kflow.spec.source import Location, Path, SourceMap

# libyaml's parser when PyYAML was built with it: ten times faster than the pure-Python one.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"

MAX_DEPTH = 64
MAX_SIZE = 5_000_000
"""Most values a document may expand to (counting each use of an alias in full)."""

# Accepted second spellings (the seeds' 004 task form), by the path of the mapping holding them.
_ROOT_RENAMES = {"tasks": "steps"}
_STEP_RENAMES = {"name": "id"}
_ENGINE_RENAMES = {"max_concurrent_tasks": "max_concurrency"}
_NO_RENAMES: dict[str, str] = {}

_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)

_DROP = "\0drop"
"""Key marker: the value that comes next is read but not kept."""
_COMPLEX_KEY = "\0complex"
"""Key marker: a mapping or list is being read as a key (an error); its value is dropped."""
_MERGE_KEY = "\0merge"
"""Key marker: the value that comes next is merged (`<<: *defaults`)."""


@dataclass
class Document:
    """What reading produced: the data (None if unreadable), its SourceMap and problems."""

    data: Any
    source: SourceMap
    problems: list[Problem] = field(default_factory=list)


class _TooLarge(Exception):
    """The document expands past MAX_SIZE values."""


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built."""

    path: Path | None
    """None while reading something that is dropped (no locations are recorded)."""
    value: Any
    anchor: str | None
    size_before: int
    renames: dict[str, str]
    key: str | None = None
    """The current key of a mapping (None: a key comes next)."""
    seen: dict[str, tuple[Location, str]] = field(default_factory=dict)
    """Keys read so far: where, and how they were spelled."""
    merges: list[Any] = field(default_factory=list)
    height: int = 1
    first_key: bool = False
    """The root mapping, before its first key: that key decides the `workflow:` form."""
    wrapper: bool = False
    too_deep: bool = False


def read_document(text: str, filename: str) -> Document:
    """Parse one YAML document; a root mapping whose first key is `workflow` is unwrapped."""
    reader = _Reader(filename)
    try:
        loader = _Loader(text)
    except UnicodeEncodeError as error:  # a lone surrogate: the C parser reads UTF-8 only
        reader.report(_position(text, error.start), "the text holds an invalid character")
        return Document(None, SourceMap(), reader.problems)
    try:
        data = reader.run(loader)
    except yaml.MarkedYAMLError as error:
        reader.syntax_error(error)
        data = None
    except yaml.reader.ReaderError as error:
        index = error.position
        if _Loader is not yaml.SafeLoader:  # libyaml counts bytes of UTF-8, not characters
            index = len(text.encode()[:index].decode(errors="ignore"))
        where = _position(text, index)
        reader.report(where, f"the text holds a character YAML does not allow: {error.reason}")
        data = None
    except yaml.YAMLError as error:
        reader.report((1, 1), f"cannot read the file as YAML: {error}")
        data = None
    except _TooLarge:
        reader.report((1, 1), f"the document expands to more than {MAX_SIZE} values")
        data = None
    finally:
        loader.dispose()
    return Document(data, SourceMap(reader.values, reader.keys, reader.spelled), reader.problems)


class _Reader:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.values: dict[Path, Location] = {}
        self.keys: dict[Path, Location] = {}
        self.spelled: dict[Path, str] = {}
        self.problems: list[Problem] = []
        self.stack: list[_Frame] = []
        self.root: list[Any] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}
        """Anchor name -> (value, expanded size, height)."""
        self.building: set[str] = set()
        self.size = 0
        self.wrapped = False

    def report(self, where: Location, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.filename, where[0], where[1], hint))

    def syntax_error(self, error: yaml.MarkedYAMLError) -> None:
        mark = error.problem_mark or error.context_mark
        where = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = error.problem or "invalid YAML"
        if error.context:
            detail = f"{detail} ({error.context})"
        self.report(where, f"YAML syntax error: {detail}", "check the indentation and quoting")

    def run(self, loader: Any) -> Any:
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            self.report((1, 1), "the file is empty", "a workflow needs at least a `steps:` list")
            return None
        loader.get_event()  # document start
        event = loader.get_event()
        while not isinstance(event, yaml.DocumentEndEvent):
            self.event(event)
            event = loader.get_event()
        if loader.check_event(yaml.DocumentStartEvent):
            self.report(
                _at(loader.peek_event()),
                "the file holds more than one YAML document",
                "a definition file holds one workflow: remove the second `---`",
            )
        return self.unwrap(self.root[0])

    def unwrap(self, root: Any) -> Any:
        where = self.values.get((), (1, 1))
        if self.wrapped:
            body = root.get("workflow")
            if isinstance(body, dict):
                return body
            self.report(where, f"`workflow:` must hold a mapping, not {_kind(body)}")
            return None
        if isinstance(root, dict):
            return root
        self.report(
            where,
            f"a workflow definition must be a mapping, not {_kind(root)}",
            "start with `workflow:` or with keys such as `id:` and `steps:`",
        )
        return None

    def event(self, event: yaml.Event) -> None:
        if isinstance(event, _ENDS):
            self.close()
            return
        top = self.stack[-1] if self.stack else None
        if top is not None and top.key is None and isinstance(top.value, dict):
            self.key(top, event)
            return
        path = _child_path(top)
        if isinstance(event, yaml.ScalarEvent):
            self.size += 1
            value = self.scalar(event, path)
            if event.anchor:
                self.anchors[event.anchor] = (value, 1, 0)
            self.attach(value, 0)
        elif isinstance(event, yaml.AliasEvent):
            self.alias(event, path)
        elif isinstance(event, _STARTS):
            self.open(event, path)

    def open(self, event: yaml.CollectionStartEvent, path: Path | None) -> None:
        mapping = isinstance(event, yaml.MappingStartEvent)
        self.size += 1
        if path is not None:
            self.values[path] = _at(event)
            if event.tag not in (None, "!", _MAP if mapping else _SEQ):
                self.report(_at(event), f"unsupported YAML tag {event.tag!r}")
        frame = _Frame(
            path, {} if mapping else [], event.anchor, self.size - 1, _renames(path, mapping)
        )
        frame.first_key = mapping and not self.stack and path == ()
        if len(self.stack) >= MAX_DEPTH:
            if not self.stack[-1].too_deep:
                self.report(_at(event), f"values are nested more than {MAX_DEPTH} levels deep")
            frame.too_deep, frame.path = True, None
        if event.anchor:
            self.building.add(event.anchor)
        self.stack.append(frame)

    def close(self) -> None:
        frame = self.stack.pop()
        value = None if frame.too_deep else frame.value
        if frame.merges:
            self.merge(frame)
        if frame.anchor:
            self.building.discard(frame.anchor)
            self.anchors[frame.anchor] = (value, self.size - frame.size_before, frame.height)
        self.attach(value, frame.height)

    def attach(self, value: Any, height: int) -> None:
        if not self.stack:
            self.root.append(value)
            return
        top = self.stack[-1]
        if height >= top.height:
            top.height = height + 1
        if isinstance(top.value, list):
            top.value.append(value)
            return
        key, top.key = top.key, None
        if key == _COMPLEX_KEY:
            top.key = _DROP
        elif key == _MERGE_KEY:
            top.merges.append(value)
        elif key != _DROP and key is not None:
            top.value[key] = value

    def alias(self, event: yaml.AliasEvent, path: Path | None) -> None:
        name = event.anchor or ""
        found = self.anchors.get(name)
        if path is not None:
            self.values[path] = _at(event)
        if name in self.building or found is None:
            problem = "refers to the value that contains it"
            if name not in self.building:
                problem = f"has no anchor &{name} before it"
            self.report(_at(event), f"alias *{name} {problem}")
            self.attach(None, 0)
            return
        value, size, height = found
        self.size += size
        if self.size > MAX_SIZE:
            raise _TooLarge
        if len(self.stack) + height > MAX_DEPTH:
            self.report(_at(event), f"values are nested more than {MAX_DEPTH} levels deep")
            value, height = None, 0
        self.attach(value, height)

    def merge(self, frame: _Frame) -> None:
        """Apply `<<: *anchor` (or a list of them): keys written in the mapping win."""
        for merged in frame.merges:
            for source in merged if isinstance(merged, list) else [merged]:
                if not isinstance(source, dict):
                    where = self.values.get(frame.path or (), (1, 1))
                    self.report(where, f"`<<` merges a mapping, not {_kind(source)}")
                    continue
                for key, value in source.items():
                    frame.value.setdefault(frame.renames.get(key, key), value)

    def key(self, frame: _Frame, event: yaml.Event) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            self.report(_at(event), f"a mapping key must be a name, not {_event_kind(event)}")
            frame.key = _DROP
            if isinstance(event, _STARTS):
                frame.key = _COMPLEX_KEY
                self.open(event, None)
            return
        written = event.value
        if event.anchor:
            self.anchors[event.anchor] = (written, 1, 0)
        if written == "<<" and event.tag is None and event.implicit[0]:
            frame.key = _MERGE_KEY
            return
        if frame.first_key:
            frame.first_key = False
            frame.wrapper = self.wrapped = written == "workflow"
        name = frame.renames.get(written, written)
        where = _at(event)
        if name in frame.seen:
            if frame.path is not None:
                self.duplicate(frame, written, name, where)
            frame.key = _DROP
        elif frame.wrapper and name != "workflow":
            self.report(
                where,
                f"unknown top-level key {written!r} next to `workflow:`",
                "put every key of the definition inside `workflow:`",
            )
            frame.key = _DROP
        else:
            frame.seen[name] = (where, written)
            frame.key = name
            if frame.path is not None and not frame.wrapper:
                key_path = (*frame.path, name)
                self.keys[key_path] = where
                if name != written:
                    self.spelled[key_path] = written

    def duplicate(self, frame: _Frame, written: str, name: str, where: Location) -> None:
        (line, _), first = frame.seen[name]
        what = f"duplicate key {written!r}"
        if first != written:
            what = f"{written!r} repeats {first!r} (they are the same key)"
        self.report(
            where,
            f"{what}; the first is at line {line}",
            "YAML would silently keep only one of them: remove or rename one",
        )

    def scalar(self, event: yaml.ScalarEvent, path: Path | None) -> Any:
        if path is not None:
            self.values[path] = _at(event)
        try:
            return scalars.read(event)
        except scalars.BadScalar as error:
            self.report(_at(event), str(error))
            return event.value


def _child_path(top: _Frame | None) -> Path | None:
    if top is None:
        return ()
    if top.path is None or top.key in (_DROP, _MERGE_KEY):
        return None
    if isinstance(top.value, list):
        return (*top.path, len(top.value))
    if top.wrapper:
        return ()
    assert top.key is not None
    return (*top.path, top.key)


def _renames(path: Path | None, mapping: bool) -> dict[str, str]:
    if not mapping or path is None:
        return _NO_RENAMES
    if not path:
        return _ROOT_RENAMES
    if len(path) == 2 and path[0] == "steps" and isinstance(path[1], int):
        return _STEP_RENAMES
    if path == ("engine",):
        return _ENGINE_RENAMES
    return _NO_RENAMES


def _position(text: str, index: int) -> Location:
    """The (line, column) of a character offset."""
    line_start = text.rfind("\n", 0, index) + 1
    return (text.count("\n", 0, index) + 1, index - line_start + 1)


def _at(event: yaml.Event) -> Location:
    return (event.start_mark.line + 1, event.start_mark.column + 1)


def _event_kind(event: yaml.Event) -> str:
    if isinstance(event, yaml.MappingStartEvent):
        return "a mapping"
    if isinstance(event, yaml.SequenceStartEvent):
        return "a list"
    return "an alias"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    return f"the value {value!r}"
