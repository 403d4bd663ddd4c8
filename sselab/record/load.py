"""Finding the recording that a scenario's ``response: {recording: NAME}`` names."""

from __future__ import annotations

from pathlib import Path

from ..errors import ScenarioError
from ..scenario.validate import Where
from .schema import Recording

_CACHE: dict[tuple[str, int, int], Recording] = {}


def resolve(named: str, relative_to: str | None) -> Path:
    """``NAME`` is ``NAME.yaml`` (or ``.yml``) beside the scenario; anything with a slash or a
    YAML suffix is a path relative to the scenario's directory."""
    base = Path(relative_to).parent if relative_to else Path.cwd()
    if "/" in named or named.endswith((".yaml", ".yml")):
        return base / named
    for suffix in (".yaml", ".yml"):
        if (base / f"{named}{suffix}").exists():
            return base / f"{named}{suffix}"
    return base / f"{named}.yaml"


def load_named(named: str, where: Where) -> Recording:
    path = resolve(named, where.file)
    if not path.is_file():
        raise where.error("response.recording", f"no recording {named!r}: {path} does not exist")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    from ..scenario.load import load_file

    try:
        scenario = load_file(path)
    except ScenarioError as exc:
        raise where.error("response.recording", f"the recording {named!r} is not valid "
                                                f"({exc.errors[0]})") from None
    recording = scenario.recording
    if recording is None or scenario.response.recording is not None:
        raise where.error("response.recording", f"{path} is a scenario, not a recording (it "
                                                "has no recording: section)")
    _CACHE[key] = recording
    return recording
