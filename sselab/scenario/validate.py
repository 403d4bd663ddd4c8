"""Strict, generic validation of plain YAML data into dataclasses.

Every scenario dataclass and every fault dataclass is built through :func:`build`: an unknown key,
a missing required key or a wrong type is a :class:`~sselab.errors.ScenarioError` naming the
file, the line and the field path (``faults[1].at_token``). :func:`build` goes on past a bad
field: every mistake is added to :attr:`Where.errors`, then :class:`Reported` is raised so that
callers skip what depends on the bad value without reporting it twice.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING
from typing import Any, Literal, TypeVar, Union

from ..errors import ScenarioError
from .limits import MAX_DEPTH, MAX_ERRORS, MAX_NUMBER

T = TypeVar("T")


@dataclasses.dataclass
class Where:
    """Where values came from: a file name and the line of each field path."""

    file: str | None = None
    lines: dict[str, int] = dataclasses.field(default_factory=dict)
    errors: list[ScenarioError] = dataclasses.field(default_factory=list)

    def line(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    def error(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(message, file=self.file, line=self.line(path), field=path or None)

    def add(self, exc: ScenarioError) -> None:
        """Record a mistake (one already recorded, :class:`Reported`, is not added again)."""
        if not isinstance(exc, Reported):
            self.errors.append(exc)

    def attempt(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)``, or :data:`BAD` after recording the mistake it raised."""
        try:
            return fn(*args)
        except ScenarioError as exc:
            self.add(exc)
            return BAD

    def raise_if_any(self) -> None:
        if len(self.errors) > MAX_ERRORS:
            more = len(self.errors) - MAX_ERRORS
            self.errors[MAX_ERRORS:] = [ScenarioError(f"{more} more mistakes not shown",
                                                      file=self.file)]
        if self.errors:
            raise ScenarioError.several(self.errors)


class Reported(ScenarioError):
    """The value was bad and its mistakes are already in :attr:`Where.errors`."""

    def __init__(self) -> None:
        super().__init__("(reported)")


BAD: Any = object()  # what Where.attempt returns for a value that failed validation


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def label(key: Any) -> str:
    """A key as it reads in a field path (``faults[0].5``), whatever its type."""
    return key if isinstance(key, str) else short(key)


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters (a key or a type may be anything)."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "..."
    if isinstance(value, (str, bool, float)) or value is None:
        return repr(value)
    if isinstance(value, int) and abs(value) < 10**limit:
        return repr(value)
    return f"({_describe(value)})"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"the number {value!r}" if abs(value) < 10**40 else "a very large number"
    if isinstance(value, float):
        if math.isnan(value):
            return "the number .nan"
        return f"the number {value!r}" if math.isfinite(value) else \
            f"the number {'-' if value < 0 else ''}.inf"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, datetime.date):
        return "a date (quote it to make it a string)"
    if isinstance(value, (bytes, bytearray)):
        return "binary data (!!binary)"
    if isinstance(value, (set, frozenset)):
        return "a set (!!set)"
    return type(value).__name__


def _utf8(value: str, where: Where, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start:exc.end].encode("unicode_escape").decode()
        raise where.error(path, f"contains a lone surrogate ({bad}), which is not UTF-8: write "
                                "the character itself, or a \\U0001F30D-style escape") from None
    return value


def _finite(value: float, where: Where, path: str) -> None:
    if not math.isfinite(value):
        raise where.error(path, f"expected a finite number, got {_describe(value)}")


def _check_json(value: Any, where: Where, path: str, depth: int = 0) -> None:
    """Free-form values (tool arguments, JSON output) must be JSON, sendable as UTF-8."""
    if depth > MAX_DEPTH:
        raise where.error(path, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _utf8(value, where, path)
    elif value is None or isinstance(value, (bool, int)):
        pass
    elif isinstance(value, float):
        _finite(value, where, path)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise where.error(_join(path, label(k)), f"a JSON key must be a string; got "
                                                       f"{_describe(k)} (quote it)")
            _utf8(k, where, path)
            _check_json(v, where, _join(path, k), depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, where, _join(path, i), depth + 1)
    else:
        raise where.error(path, f"not a JSON value: {_describe(value)}")


def convert(tp: Any, value: Any, where: Where, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        _check_json(value, where, path)
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert(inner, value, where, path)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise where.error(path, f"expected one of {', '.join(map(str, choices))}; "
                                    f"got {_describe(value)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise where.error(path, f"expected a list, got {_describe(value)}")
        (inner,) = typing.get_args(tp)[:1]
        items = [where.attempt(convert, inner, v, where, _join(path, i))
                 for i, v in enumerate(value)]
        if any(item is BAD for item in items):
            raise Reported
        return items if origin is list else tuple(items)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise where.error(path, f"expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error(path, f"expected a whole number, got {_describe(value)}")
        _in_range(value, where, path)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.error(path, f"expected a number, got {_describe(value)}")
        if isinstance(value, float):
            _finite(value, where, path)
        _in_range(value, where, path)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise where.error(path, f"expected a string, got {_describe(value)}")
        return _utf8(value, where, path)
    raise TypeError(f"unsupported field type {tp!r} at {path}")  # a bug in sselab, not in input


def _in_range(value: float, where: Where, path: str) -> None:
    if abs(value) > MAX_NUMBER:
        raise where.error(path, f"must be between -{MAX_NUMBER:,} and {MAX_NUMBER:,}; got "
                                f"{_describe(value)}")


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """Type hints and init fields of a dataclass (resolving hints is most of a build's time)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    return typing.get_type_hints(cls), fields


def build(cls: type[T], data: Any, where: Where, path: str = "",
          skip: tuple[str, ...] = ()) -> T:
    """Build dataclass ``cls`` from mapping ``data``, strictly."""
    if not isinstance(data, Mapping):
        raise where.error(path, f"expected a mapping, got {_describe(data)}")
    hints, all_fields = _fields(cls)
    fields = {n: f for n, f in all_fields.items() if n not in skip}
    failed = False
    for key in data:
        if key not in fields:
            where.add(where.error(_join(path, label(key)),
                                  f"unknown key {short(key)} (allowed: {', '.join(fields)})"))
            failed = True
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = where.attempt(convert, hints[name], data[name], where,
                                         _join(path, name))
            failed = failed or kwargs[name] is BAD
        elif f.default is MISSING and f.default_factory is MISSING:
            where.add(where.error(path, f"missing required key {name!r}"))
            failed = True
    if failed:
        raise Reported
    return cls(**kwargs)
