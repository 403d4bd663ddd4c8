"""A :class:`Scenario` back as plain data (what a scenario file holds), e.g. to send it as JSON
to another process (``POST /_sselab/scenarios``): ``load_text(json.dumps(to_data(s)))`` gives
an equal scenario."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .schema import Scenario


def to_data(scenario: Scenario) -> dict[str, Any]:
    from ..shaping import faults as fault_registry

    kinds = {cls: name for name, cls in fault_registry().items()}
    out = _plain(scenario)
    out.pop("source", None)
    out["faults"] = [{"type": kinds[type(f)], **_plain(f)} for f in scenario.faults]
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None and not f.metadata.get("internal")}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
