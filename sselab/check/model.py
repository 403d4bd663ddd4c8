"""What a check run produces: results with verdicts, measurements and timelines (as plain data).

Verdicts, from best to worst: ``pass``, ``warn`` (passes, with something worth knowing),
``skip``, ``fail`` (the endpoint breaks streaming this way) and ``error`` (the check could not
be run, e.g. the endpoint is unreachable). A run fails when any check fails or errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..timeline.model import Lane, Marker, Span, Timeline

VERDICTS = ("pass", "warn", "skip", "fail", "error")
FAILING = frozenset({"fail", "error"})
__all__ = ["VERDICTS", "FAILING", "CheckResult", "Lane", "Marker", "Report", "Span", "Timeline"]


@dataclass
class CheckResult:
    name: str
    title: str
    verdict: str
    message: str
    measurements: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    timelines: list[Timeline] = field(default_factory=list)
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    endpoint: str
    upstream: str
    results: list[CheckResult] = field(default_factory=list)
    preflight: str | None = None  # None when the preflight passed, else why not
    shape: str | None = None  # what the extractor recognised in the endpoint's stream
    started_at: float = 0.0  # unix seconds
    duration: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.preflight is None and not any(r.failed for r in self.results)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.failed]

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for r in self.results:
            out[r.verdict] += 1
        return out

    def summary(self) -> str:
        """One line per check: for assertion messages."""
        lines = [f"{r.verdict.upper():5} {r.name}: {r.message}" for r in self.results]
        if self.preflight:
            lines.insert(0, f"preflight: {self.preflight}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "upstream": self.upstream, "ok": self.ok,
            "preflight": self.preflight, "shape": self.shape, "started_at": self.started_at,
            "duration": round(self.duration, 3), "counts": self.counts(),
            "settings": self.settings, "checks": [r.to_json() for r in self.results],
        }
