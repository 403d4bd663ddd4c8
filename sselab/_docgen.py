"""Reference tables for the guide, generated from the code so that they cannot drift.

- :func:`scenario_reference`: every key of a scenario file, from the schema dataclasses
  (``sselab.scenario.schema``) and their ``doc`` metadata;
- :func:`faults_table`: every registered fault with its attributes, summary and the built-in
  scenarios that use it (``sselab.shaping``);
- :func:`scenarios_table`: every built-in scenario with its description.

The MkDocs hook ``docs/hooks.py`` replaces ``<!-- sselab:NAME -->`` markers with these; adding a
fault module or a schema field changes the page with no hand edit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any, Literal, Union

MISSING = dataclasses.MISSING


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in inner)
    if origin is Literal:
        return " \\| ".join(f"`{c}`" for c in typing.get_args(tp))
    if origin in (list, tuple):
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {str: "string", int: "whole number", float: "number", bool: "true/false"}.get(
        tp, "any YAML value")


def _default(f: dataclasses.Field[Any]) -> str:
    if f.metadata.get("shown_default"):
        return f.metadata["shown_default"]
    if f.default is not MISSING:
        if f.default is None or f.default == ():
            return "—"
        return f"`{str(f.default).lower() if isinstance(f.default, bool) else f.default}`"
    if f.default_factory is not MISSING:
        value = f.default_factory()
        return "—" if dataclasses.is_dataclass(value) or not value else f"`{value}`"
    return "required"


def _fields(cls: type, prefix: str) -> Iterator[tuple[str, str, str, str]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or not f.init:
            continue
        path = f"{prefix}{f.name}"
        yield path, _type_name(hints[f.name]), _default(f), f.metadata.get("doc", "")
        inner = [a for a in (hints[f.name], *typing.get_args(hints[f.name]))
                 if dataclasses.is_dataclass(a)]
        if inner and f.name != "faults":
            sub = "[]." if typing.get_origin(hints[f.name]) in (list, tuple) else "."
            yield from _fields(inner[0], f"{path}{sub}")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") if "`" not in cell else cell
                                for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def scenario_reference() -> str:
    """Every key of a scenario file, nested keys as dotted paths."""
    from .scenario.schema import Scenario

    rows = [(f"`{path}`", tp, default, text)
            for path, tp, default, text in _fields(Scenario, "")]
    return _table(("key", "type", "default", "meaning"), rows)


def _fault_attributes(cls: type) -> str:
    hints = typing.get_type_hints(cls)
    parts = []
    for f in dataclasses.fields(cls):
        if f.init:
            parts.append(f"`{f.name}` ({_type_name(hints[f.name])})")
    return ", ".join(parts) or "—"


def faults_table() -> str:
    """Every registered fault: type, attributes, what it does, the built-ins that use it."""
    from .scenario import builtin_dir, load_dir
    from .shaping import faults

    users: dict[str, list[str]] = {}
    for scenario in load_dir(builtin_dir()).values():
        for fault in scenario.faults:
            users.setdefault(fault.type_name, []).append(scenario.name)
    rows = [(f"`{name}`", _fault_attributes(cls), cls.summary,
             ", ".join(f"`{n}`" for n in sorted(users.get(name, []))) or "—")
            for name, cls in sorted(faults().items())]
    return _table(("type", "attributes", "what happens", "built-in scenarios"), rows)


def scenarios_table() -> str:
    """Every built-in scenario with its description."""
    from .scenario import builtin_dir, load_dir

    found = load_dir(builtin_dir())
    return _table(("scenario", "what it does"),
                  [(f"`{n}`", found[n].description) for n in sorted(found)])


GENERATORS: dict[str, Callable[[], str]] = {
    "scenario-reference": scenario_reference,
    "faults-table": faults_table,
    "scenarios-table": scenarios_table,
}


def expand(markdown: str) -> str:
    """Replace each ``<!-- sselab:NAME -->`` marker with the table it names."""
    for name, generate in GENERATORS.items():
        marker = f"<!-- sselab:{name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
