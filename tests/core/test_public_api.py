"""The public surface is what ``__all__`` says, and each registry matches its folder's files."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import sselab
from sselab import encoders, shaping

EXPECTED = {
    "REQUEST_ID_HEADER", "SCENARIO_HEADER", "ConfigError", "RequestRecord", "Scenario",
    "ScenarioError", "Simulator", "SimulatorThread", "SselabError", "UnknownScenarioError",
    "__version__", "compile_scenario", "create_app", "load_all", "load_dir", "load_file",
    "load_text",
}


def test_all_is_the_public_api() -> None:
    assert set(sselab.__all__) == EXPECTED
    for name in sselab.__all__:
        assert hasattr(sselab, name), name


def _modules(pkg: object, skip: set[str]) -> set[str]:
    path = [str(Path(pkg.__file__).parent)]  # type: ignore[attr-defined]
    return {m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_")} - skip


def test_every_encoder_module_registers_one_format() -> None:
    fmts = encoders.formats()
    modules = _modules(encoders, {"base", "sse_frame"})
    assert {f.__module__.rsplit(".", 1)[1] for f in map(_origin, fmts.values())} == modules
    assert {"openai_chat", "openai_responses", "anthropic", "gemini", "vercel_ui_stream",
            "plain_sse"} <= set(fmts)


def _origin(fmt: encoders.WireFormat) -> object:
    return fmt.stream  # the function lives in the format's own module


def test_every_fault_module_registers_one_fault() -> None:
    registered = shaping.faults()
    modules = _modules(shaping, {"base"})
    assert {cls.__module__.rsplit(".", 1)[1] for cls in registered.values()} == modules
    assert len(registered) == len(modules)
