"""YAML text → plain data and the line of every field path, within the limits of ``limits``.

PyYAML's safe loader is kept (no object tags), with its cost bounded while the document is
composed, before anything walks it: nesting depth, the number of values and the characters of
text, each alias counted as a full copy of what it names (so a "billion laughs" file is refused
after a few hundred values, not expanded), aliases that contain themselves, and over-long
numbers (base-60 integers are converted in quadratic time). A key given twice in one mapping is
an error naming the second one's line. Every failure is a one-line :class:`ScenarioError`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import ScenarioError
from .limits import MAX_DEPTH, MAX_NUMBER_CHARS, Budget, budget_for
from .validate import Where

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# what a value constructor may raise for a bad scalar (``!!int x``, ``2020-02-30``, ``!!bool 7``)
_CONSTRUCT_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that the loader will not take (too deep, too big, a recursive alias...)."""

    def __init__(self, message: str, mark: Any, field: str | None = None,
                 node: Node | None = None) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.field, self.node = field, node


class _Loader(yaml.SafeLoader):
    """The safe loader, with a budget on what composing the document may cost."""

    def __init__(self, text: str, budget: Budget) -> None:
        super().__init__(text)
        self._budget = budget
        self._stack: list[str] = []  # the field path of each value being composed
        self._nodes = 0
        self._chars = 0
        self._sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, characters) it names

    def _spend(self, nodes: int, chars: int, mark: Any, path: str) -> None:
        self._nodes += nodes
        self._chars += chars
        if self._nodes > self._budget.nodes:
            raise _Refused(f"more than {self._budget.nodes:,} values in the document (an "
                           "alias counts as a copy of what it names)", mark, path)
        if self._chars > self._budget.chars:
            raise _Refused(f"more than {self._budget.chars:,} characters of text in the "
                           "document (an alias counts as a copy of what it names)", mark, path)

    def _path(self, parent: Node | None, index: Any) -> str:
        base = self._stack[-1] if self._stack else ""
        if parent is None or index is None:  # the document, or a mapping's key
            return base
        if isinstance(index, int):
            return f"{base}[{index}]"
        key = index.value if isinstance(index, ScalarNode) else "?"
        return f"{base}.{key}" if base else str(key)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        path = self._path(parent, index)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self.anchors:
                size = self._sizes.get(event.anchor)
                if size is None:
                    raise _Refused(f"alias *{event.anchor} is inside the value it names (a "
                                   "recursive alias)", event.start_mark, path)
                self._spend(*size, event.start_mark, path)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        event = self.peek_event()
        if len(self._stack) >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark, path)
        before = (self._nodes, self._chars)
        self._stack.append(path)
        node = super().compose_node(parent, index)
        self._stack.pop()
        if isinstance(node, ScalarNode):
            if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
                raise _Refused(f"a number longer than {MAX_NUMBER_CHARS} characters (quote it "
                               "to make it a string)", node.start_mark, path)
            self._spend(1, len(node.value), node.start_mark, path)
        else:
            self._spend(1, 0, node.start_mark, path)
        if event.anchor is not None:
            self._sizes[event.anchor] = (self._nodes - before[0], self._chars - before[1])
        return node  # type: ignore[no-any-return]

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except _CONSTRUCT_ERRORS as exc:
            what = node.tag.rsplit(":", 1)[-1]
            raise _Refused(f"not a valid {what}: {exc}", node.start_mark, node=node) from None


def _path_of(root: Node, target: Node) -> str | None:
    """The field path of ``target`` in the document (looked for only to report a mistake)."""
    todo: list[tuple[Node, str]] = [(root, "")]
    seen: set[int] = set()
    while todo:
        node, path = todo.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                sub = f"{path}.{key.value}" if path else str(key.value)
                todo += [(key, path), (value, sub)] if isinstance(key, ScalarNode) else []
        elif isinstance(node, SequenceNode):
            todo += [(value, f"{path}[{i}]") for i, value in enumerate(node.value)]
    return None


def _key(loader: _Loader, node: Node) -> Any:
    """The value a mapping key stands for (``yes`` and ``true`` are the same key)."""
    if node.tag == _STR_TAG:
        return node.value
    if isinstance(node, ScalarNode):
        return (loader.construct_object(node),)
    return None  # a list or mapping as a key: refused when the document is constructed


def _walk(loader: _Loader, node: Node, path: str, where: Where) -> None:
    """Record the line of every field path; a key given twice in a mapping is a mistake."""
    out = where.lines
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                continue
            sub = f"{path}.{key.value}" if path else str(key.value)
            line = key.start_mark.line + 1
            if key.tag != _MERGE_TAG:
                k = _key(loader, key)
                try:
                    first = seen.get(k)
                    if first is None:
                        seen[k] = line
                except TypeError:  # unhashable: refused when the document is constructed
                    first = None
                if first is not None:
                    where.add(ScenarioError(f"key {key.value!r} is given twice (first on line "
                                            f"{first})", file=where.file, line=line, field=sub))
            out[sub] = line
            _walk(loader, value, sub, where)
    elif isinstance(node, SequenceNode):
        for i, value in enumerate(node.value):
            _walk(loader, value, f"{path}[{i}]", where)


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _too_big(text: str, limit: int) -> bool:
    if len(text) <= limit // 4:  # 4 bytes per character at most in UTF-8
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def parse_yaml(text: str, file: str | None = None) -> tuple[Any, Where]:
    """Parse YAML text, keeping the line of every field path for error messages.

    Mistakes that leave the data usable (a key given twice) are recorded in the returned
    :class:`Where`, for validation to report with its own.
    """
    where = Where(file)
    budget = budget_for(text)
    if _too_big(text, budget.file_bytes):
        raise ScenarioError(f"larger than {budget.file_bytes:,} bytes (the limit for "
                            f"{budget.what})", file=file)
    loader: _Loader | None = None
    node = None
    try:
        loader = _Loader(text, budget)
        node = loader.get_single_node()
        if node is None:
            return None, where
        _walk(loader, node, "", where)
        data = loader.construct_document(node)
    except _Refused as exc:
        field = exc.field
        if field is None and exc.node is not None and node is not None:
            field = _path_of(node, exc.node)
        raise ScenarioError(str(exc.problem), file=file, line=_line(exc.problem_mark),
                            field=field or None) from None
    except yaml.MarkedYAMLError as exc:
        line = _line(exc.problem_mark or exc.context_mark)
        raise ScenarioError(f"not valid YAML: {exc.problem or exc.context}", file=file,
                            line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = f" (character #x{exc.character:04x})" if isinstance(exc.character, int) else ""
        raise ScenarioError(f"not valid YAML: {exc.reason}{char}", file=file,
                            line=line) from None
    except (yaml.YAMLError, *_CONSTRUCT_ERRORS, RecursionError) as exc:
        raise ScenarioError(f"not valid YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, where
