"""YAML scenario files → validated :class:`Scenario` values; errors cite file:line: field."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ScenarioError
from .generated import check_arguments, check_faker, check_tokens
from .limits import MAX_FAULTS, MAX_FILE_BYTES, budget_for
from .parse import parse_yaml
from .schema import Response, ResumeSpec, Scenario, Timing, Tokenize, UsageSpec
from .validate import BAD, Where, build, convert, label, short

if TYPE_CHECKING:
    from ..script.build import Plan

_TOP_KEYS = ("name", "description", "response", "tokenize", "timing", "usage", "faults",
             "resume", "recording")


def from_data(data: Any, where: Where, default_name: str | None = None) -> Scenario:
    """Validate plain data (as parsed from YAML) into a Scenario.

    Every mistake is reported, not only the first: the error raised stands for all of them
    (:attr:`ScenarioError.errors`). What depends on a bad value (fault positions on a bad
    response) is checked only once that value is good.
    """
    from ..script.build import plan
    from ..shaping import faults as fault_registry

    if not isinstance(data, Mapping):
        raise where.error("", "a scenario must be a mapping of keys (name, description, "
                              "response, ...)")
    for key in data:
        if key not in _TOP_KEYS:
            where.add(where.error(label(key), f"unknown key {short(key)} (allowed: "
                                            f"{', '.join(_TOP_KEYS)})"))
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        where.add(where.error("name", "a scenario needs a name (a non-empty string)"))
        name = BAD
    elif any(c.isspace() or not c.isprintable() for c in name):
        where.add(where.error("name", f"must not contain spaces or control characters; got "
                                      f"{short(name)}"))
    description = where.attempt(convert, str, data.get("description", ""), where, "description")
    response = where.attempt(_response, data, where)
    recording = where.attempt(_recording, data, response, where)
    timing = where.attempt(_timing, data.get("timing", {}), where)
    usage = where.attempt(build, UsageSpec, data.get("usage", {}), where, "usage")
    tokenize = where.attempt(convert, Tokenize, data.get("tokenize", "words"), where, "tokenize")
    resume = where.attempt(_resume, data.get("resume", {}), where)
    raw_faults = data.get("faults", [])
    if not isinstance(raw_faults, list):
        where.add(where.error("faults", "expected a list of faults"))
        raw_faults = []
    if len(raw_faults) > MAX_FAULTS:
        where.add(where.error("faults", f"more than {MAX_FAULTS} faults ({len(raw_faults)})"))
        raw_faults = []
    registry = fault_registry()
    faults = []
    for i, raw in enumerate(raw_faults):
        path = f"faults[{i}]"
        if not isinstance(raw, Mapping) or "type" not in raw:
            where.add(where.error(path, f"each fault needs a type: one of {', '.join(registry)}"))
            continue
        cls = registry.get(raw["type"]) if isinstance(raw["type"], str) else None
        if cls is None:
            where.add(where.error(f"{path}.type", f"unknown fault type {short(raw['type'])} "
                                                  f"(known: {', '.join(sorted(registry))})"))
            continue
        fault = where.attempt(build, cls, {k: v for k, v in raw.items() if k != "type"}, where,
                              path)
        if fault is not BAD:
            faults.append((path, fault))
    if any(v is BAD for v in (name, description, response, timing, usage, tokenize, resume,
                              recording)):
        where.raise_if_any()  # fault positions need a good scenario to be planned
    scenario = Scenario(name=name, description=description, response=response,
                        tokenize=tokenize, timing=timing, usage=usage, resume=resume,
                        source=where.file, recording=recording)
    check_tokens(scenario, where)  # raises before planning a script too long to plan quickly
    planned = plan(scenario)
    token_count = planned.token_count
    for path, fault in faults:
        where.attempt(fault.check, where, path, token_count)
    where.raise_if_any()
    _check_order(faults, planned, where)
    return replace(scenario, faults=tuple(f for _, f in faults))


def _response(data: Mapping[str, Any], where: Where) -> Response:
    if "response" not in data:
        if "recording" in data:  # a recording answers with what it recorded
            return Response()
        raise where.error("", "missing required key 'response'")
    response = build(Response, data["response"], where, "response")
    sources = [k for k in ("text", "faker", "json", "recording")
               if getattr(response, k) is not None]
    if len(sources) > 1:
        raise where.error("response", f"give at most one of text, faker, json, recording; got "
                                      f"{' and '.join(sources)}")
    if not sources and not response.tool_calls:
        raise where.error("response", "give one of text, faker, json, recording, or tool_calls")
    if response.faker is not None:
        check_faker(response.faker, where, "response.faker")
    check_arguments(response, where)
    return response


def _resume(data: Any, where: Where) -> ResumeSpec:
    resume = build(ResumeSpec, data, where, "resume")
    if resume.retry_ms is not None and resume.retry_ms < 0:
        raise where.error("resume.retry_ms", f"must be 0 or more; got {resume.retry_ms}")
    return resume


def _recording(data: Mapping[str, Any], response: Any, where: Where) -> Any:
    from ..record.schema import recording_of  # the recording: section lives with sselab.record

    return recording_of(data, response, where)


def _timing(data: Any, where: Where) -> Timing:
    timing = build(Timing, data, where, "timing")
    for key in ("ttft_ms", "token_ms", "jitter_ms"):
        if getattr(timing, key) < 0:
            where.add(where.error(f"timing.{key}",
                                  f"must be 0 or more; got {getattr(timing, key)}"))
    if timing.burst and (timing.burst.size < 1 or timing.burst.pause_ms < 0):
        where.add(where.error("timing.burst", "size must be at least 1 and pause_ms 0 or more"))
    return timing


def _check_order(faults: list[tuple[str, Any]], p: Plan, where: Where) -> None:
    """Nothing may be placed after a fault that ends the stream (``p``: the planned script)."""
    from ..shaping.base import position_of

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
        if path.exists() and not path.is_file():  # a FIFO or a device: blocks, or never ends
            raise ScenarioError("not a regular file", file=str(path))
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
            budget = budget_for(data[:65_536].decode("utf-8", "replace"))
            if len(data) > MAX_FILE_BYTES and budget.file_bytes > MAX_FILE_BYTES:
                data += f.read(budget.file_bytes + 1 - len(data))  # a recording: read on
        if len(data) > budget.file_bytes:
            raise ScenarioError(f"larger than {budget.file_bytes:,} bytes (the limit for "
                                f"{budget.what})", file=str(path))
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc}", file=str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(f"not UTF-8: byte 0x{data[exc.start]:02x} ({exc.reason})",
                            file=str(path), line=line) from None
    return load_text(text, str(path), default_name=path.stem)


def check_paths(paths: Iterable[str | Path]
                ) -> tuple[list[Path], list[Scenario], list[ScenarioError]]:
    """Validate scenario files and directories of them, going on past every mistake.

    Returns the files read, the good scenarios and every error: each file's own (YAML syntax
    included) and, as an error of its own, each name used by more than one file of a directory.
    """
    files: list[Path] = []
    good: list[Scenario] = []
    errors: list[ScenarioError] = []
    found: dict[str, Scenario] = {}
    for given in map(Path, paths):
        if given.is_dir():
            batch = sorted([*given.glob("*.yaml"), *given.glob("*.yml")])
            found = {}  # names must be unique within a directory, as load_dir requires
        elif given.exists():
            batch = [given]
        else:
            errors.append(ScenarioError("no such file or directory", file=str(given)))
            continue
        for path in batch:
            files.append(path)
            try:
                scenario = load_file(path)
            except ScenarioError as exc:
                errors.extend(exc.errors)
                continue
            other = found.get(scenario.name)
            if other is not None:
                errors.append(ScenarioError(f"scenario name {scenario.name!r} is also used by "
                                            f"{other.source}", file=str(path), field="name"))
            else:
                found[scenario.name] = scenario
                good.append(scenario)
    return files, good, errors


def load_dir(directory: str | Path) -> dict[str, Scenario]:
    """Every ``*.yaml`` / ``*.yml`` file of a directory; a duplicate name is an error.

    Fail-fast for the directory as a whole, but the error raised names every bad file (each of
    its mistakes on a line of its own).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ScenarioError("not a directory of scenario files", file=str(directory))
    _, good, errors = check_paths([directory])
    if errors:
        raise ScenarioError.several(errors)
    return {s.name: s for s in good}


def builtin_dir() -> Path:
    """The built-in scenarios: inside the installed wheel, or ``scenarios/`` in a checkout."""
    spec = importlib.util.find_spec("sselab.builtin_scenarios")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "scenarios"


def load_all(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Scenario]:
    """Built-in scenarios, then each extra directory (a later one overrides a name)."""
    scenarios = load_dir(builtin_dir())
    for directory in extra_dirs:
        scenarios.update(load_dir(directory))
    return scenarios
