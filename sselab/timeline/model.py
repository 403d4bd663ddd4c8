"""A timeline picture as plain data: lanes of timed byte counts, markers and spans.

Shared by ``sselab check``'s report (upstream writes against what its client read) and the lab
(one simulator request's writes, keep-alives, stalls and drain waits; the demo's upstream writes
against the browser's arrivals). :func:`sselab.timeline.svg.render` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIDES = ("upstream", "client", "keepalive")


@dataclass
class Lane:
    """One row of a timeline: when bytes were written (upstream) or arrived (client)."""

    label: str
    side: str  # "upstream" (what the simulator wrote) | "client" (what a client read)
    # | "keepalive" (the simulator's keep-alive writes)
    points: list[tuple[float, int]] = field(default_factory=list)  # (s since t0, bytes)
    count: int | None = None  # writes/reads before thinning (points may be time bins)


@dataclass
class Marker:
    at: float  # seconds since the timeline's t0
    label: str
    kind: str = "info"  # info | disconnect | upstream-end | error | timeout | stop


@dataclass
class Span:
    """A stretch of time drawn across the lanes: a stall, a write waiting for the reader."""

    start: float  # seconds since the timeline's t0
    end: float
    label: str
    kind: str = "stall"  # stall | drain | blocked


@dataclass
class Timeline:
    title: str
    lanes: list[Lane] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    @property
    def span(self) -> float:
        ends = ([t for lane in self.lanes for t, _ in lane.points] + [m.at for m in self.markers]
                + [s.end for s in self.spans])
        return max(ends, default=0.0)
