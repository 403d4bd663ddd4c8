"""YAML scenario files → validated :class:`Scenario` values; errors cite file:line: field."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from ..errors import ScenarioError
from .schema import Response, Scenario, Timing, Tokenize, UsageSpec
from .validate import Where, build, convert

_TOP_KEYS = ("name", "description", "response", "tokenize", "timing", "usage", "faults")


def _lines(node: yaml.Node, path: str, out: dict[str, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = f"{path}.{key.value}" if path else str(key.value)
            out[sub] = key.start_mark.line + 1
            _lines(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _lines(value, f"{path}[{i}]", out)


def parse_yaml(text: str, file: str | None = None) -> tuple[Any, Where]:
    """Parse YAML text, keeping the line of every field path for error messages."""
    where = Where(file)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(f"not valid YAML: {exc.problem or exc}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"not valid YAML: {exc}", file=file) from None
    if node is not None:
        _lines(node, "", where.lines)
    return data, where


def from_data(data: Any, where: Where, default_name: str | None = None) -> Scenario:
    """Validate plain data (as parsed from YAML) into a Scenario."""
    from ..script.build import plan
    from ..shaping import faults as fault_registry

    if not isinstance(data, Mapping):
        raise where.error("", "a scenario must be a mapping of keys (name, description, "
                              "response, ...)")
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise where.error(str(unknown[0]), f"unknown key {unknown[0]!r} (allowed: "
                                           f"{', '.join(_TOP_KEYS)})")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise where.error("name", "a scenario needs a name (a non-empty string)")
    if any(c.isspace() for c in name):
        raise where.error("name", f"must not contain spaces; got {name!r}")
    description = convert(str, data.get("description", ""), where, "description")
    if "response" not in data:
        raise where.error("", "missing required key 'response'")
    response = build(Response, data["response"], where, "response")
    sources = [k for k in ("text", "faker", "json") if getattr(response, k) is not None]
    if len(sources) > 1:
        raise where.error("response", f"give at most one of text, faker, json; got "
                                      f"{' and '.join(sources)}")
    if not sources and not response.tool_calls:
        raise where.error("response", "give one of text, faker, json, or tool_calls")
    timing = build(Timing, data.get("timing", {}), where, "timing")
    for key in ("ttft_ms", "token_ms", "jitter_ms"):
        if getattr(timing, key) < 0:
            raise where.error(f"timing.{key}", f"must be 0 or more; got {getattr(timing, key)}")
    if timing.burst and (timing.burst.size < 1 or timing.burst.pause_ms < 0):
        raise where.error("timing.burst", "size must be at least 1 and pause_ms 0 or more")
    usage = build(UsageSpec, data.get("usage", {}), where, "usage")
    raw_faults = data.get("faults", [])
    if not isinstance(raw_faults, list):
        raise where.error("faults", "expected a list of faults")
    scenario = Scenario(name=name, description=description, response=response,
                        tokenize=convert(Tokenize, data.get("tokenize", "words"), where,
                                         "tokenize"),
                        timing=timing, usage=usage, source=where.file)
    registry = fault_registry()
    token_count = plan(scenario).token_count
    faults = []
    for i, raw in enumerate(raw_faults):
        path = f"faults[{i}]"
        if not isinstance(raw, Mapping) or "type" not in raw:
            raise where.error(path, f"each fault needs a type: one of {', '.join(registry)}")
        cls = registry.get(raw["type"])
        if cls is None:
            raise where.error(f"{path}.type", f"unknown fault type {raw['type']!r} (known: "
                                              f"{', '.join(sorted(registry))})")
        fault = build(cls, {k: v for k, v in raw.items() if k != "type"}, where, path)
        fault.check(where, path, token_count)
        faults.append((path, fault))
    _check_order(faults, scenario, where)
    return replace(scenario, faults=tuple(f for _, f in faults))


def _check_order(faults: list[tuple[str, Any]], scenario: Scenario, where: Where) -> None:
    """Nothing may be placed after a fault that ends the stream."""
    from ..script.build import plan
    from ..shaping.base import position_of

    p = plan(scenario)
    ending = [(position_of(f, p), path, f) for path, f in faults if f.ends_stream()]
    if len(ending) > 1:
        raise where.error(ending[1][1], f"only one fault may end the stream; {ending[0][1]} "
                                        f"({ending[0][2].type_name}) already does")
    if ending:
        end_pos, end_path, end = ending[0]
        for path, f in faults:
            if f is not end and position_of(f, p) > end_pos and position_of(f, p) >= 0:
                raise where.error(path, f"is never reached: {end_path} ({end.type_name}) ends "
                                        "the stream before it")


def load_text(text: str, file: str | None = None, default_name: str | None = None) -> Scenario:
    data, where = parse_yaml(text, file)
    return from_data(data, where, default_name)


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", file=str(path)) from None
    return load_text(text, str(path), default_name=path.stem)


def load_dir(directory: str | Path) -> dict[str, Scenario]:
    """Every ``*.yaml`` / ``*.yml`` file of a directory; a duplicate name is an error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ScenarioError("not a directory of scenario files", file=str(directory))
    found: dict[str, Scenario] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        scenario = load_file(path)
        if scenario.name in found:
            raise ScenarioError(f"scenario name {scenario.name!r} is also used by "
                                f"{found[scenario.name].source}", file=str(path))
        found[scenario.name] = scenario
    return found


def builtin_dir() -> Path:
    """The built-in scenarios: inside the installed wheel, or ``scenarios/`` in a checkout."""
    spec = importlib.util.find_spec("simulator.builtin_scenarios")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "scenarios"


def load_all(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Scenario]:
    """Built-in scenarios, then each extra directory (a later one overrides a name)."""
    scenarios = load_dir(builtin_dir())
    for directory in extra_dirs:
        scenarios.update(load_dir(directory))
    return scenarios
