"""One answer in the demo lab: the simulator's writes for it and the browser's arrivals on one
time axis (t0: the browser's request), and the figures that matter.

The page reports its arrivals (seconds after its request, bytes, token events completed in the
read) and when Stop was pressed; the simulator's record of the app's upstream request is found
by time (the first chat request it received after the browser's request started).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..script.events import Script, TextDelta
from ..server.recorder import Recorder, RequestRecord
from ..timeline import Lane, Marker, Span, Timeline, render
from ..timeline.svg import WIDTH
from .record_view import request_timeline, summary
from .replay import Replay

SKEW = 0.25  # seconds: the browser's and the simulator's readings of the same clock


@dataclass
class BrowserSide:
    started_at: float  # unix seconds: when the page sent its request
    arrivals: list[tuple[float, int, int]] = field(default_factory=list)  # (s, bytes, tokens)
    stopped: float | None = None  # seconds after started_at that Stop was pressed
    ended: float | None = None  # seconds after started_at that the browser's stream ended
    width: int = WIDTH  # of the picture, in pixels (the page's panel)

    @classmethod
    def from_json(cls, data: Any) -> BrowserSide:
        """From the page's JSON; ValueError naming the field."""
        if not isinstance(data, dict):
            raise ValueError("body: send a JSON object")
        try:
            started = float(data["started_at"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("started_at: unix seconds (a number)") from None
        arrivals = []
        for i, a in enumerate((data.get("arrivals") or [])[:100_000]):
            try:
                arrivals.append((float(a[0]), int(a[1]), int(a[2]) if len(a) > 2 else 0))
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"arrivals[{i}]: [seconds, bytes, tokens]") from None

        def number(key: str) -> float | None:
            v = data.get(key)
            if v is None:
                return None
            if not isinstance(v, (int, float)):
                raise ValueError(f"{key}: seconds after started_at (a number)")
            return float(v)

        width = data.get("width")
        width = int(width) if isinstance(width, (int, float)) and 400 <= width <= 4000 else WIDTH
        return cls(started, arrivals, number("stopped"), number("ended"), width)


def find_upstream(recorder: Recorder, started_at: float) -> RequestRecord | None:
    """The first chat request the simulator received after the browser's request started."""
    found = None
    for rec in reversed(recorder.requests):
        if rec.received_at < started_at - SKEW:
            break
        if rec.path.endswith("/chat/completions"):
            found = rec
    return found


def tokens_sent(script: Script | None, rec: RequestRecord) -> int | None:
    """How many text tokens the upstream wrote (those due by its last write)."""
    if script is None:
        return None
    writes = list(rec.writes)
    if not writes:
        return 0
    last = writes[-1][0] - rec.received + 1e-3
    return sum(1 for t in script.events if isinstance(t.event, TextDelta) and t.at <= last)


def stop_phrase(rec: RequestRecord | None, side: BrowserSide) -> str | None:
    """What happened upstream after Stop, measured: "upstream closed 4 ms after Stop"."""
    if side.stopped is None or rec is None:
        return None
    stop_at = side.started_at + side.stopped
    if rec.ended_at is None:
        return f"upstream still open {max(0.0, time.time() - stop_at):.1f} s after Stop"
    dt = rec.ended_at - stop_at
    if dt < 0:
        return f"upstream had already ended ({rec.outcome.replace('_', ' ')}) before Stop"
    verb = "closed" if rec.outcome == "client_disconnected" else {
        "completed": "read to its end", "error_event": "ended with its error"}.get(
            rec.outcome, rec.outcome.replace("_", " "))
    return f"upstream {verb} {dt * 1000:.0f} ms after Stop"


def answer_view(side: BrowserSide, rec: RequestRecord | None, rp: Replay,
                script: Script | None, now: float | None = None) -> dict[str, Any]:
    now = time.monotonic() if now is None else now
    with_text = [a for a in side.arrivals if a[2] > 0]
    figures: dict[str, Any] = {
        "browser_ttft_ms": round(with_text[0][0] * 1000, 1) if with_text else None,
        "arrivals": len(side.arrivals), "arrivals_with_text": len(with_text),
        "browser_tokens": sum(a[2] for a in side.arrivals),
        "upstream_ttft_ms": None, "upstream_writes": None, "upstream_tokens": None,
        "relay_ratio": None, "upstream_outcome": None, "stop": stop_phrase(rec, side)}
    tl = Timeline("upstream writes and browser arrivals")
    if rec is not None:
        tokens = tokens_sent(script, rec)
        figures.update(
            upstream_ttft_ms=None if rec.first_byte is None
            else round((rec.first_byte - rec.received) * 1000, 1),
            upstream_writes=len(list(rec.writes)) + rec.writes_dropped,
            upstream_tokens=tokens, upstream_outcome=rec.outcome,
            relay_ratio=round(len(with_text) / tokens, 3) if tokens else None)
        up = request_timeline(rec, rp, now)
        shift = rec.received_at - side.started_at
        for lane in up.lanes:
            tl.lanes.append(Lane(f"upstream {lane.label}", lane.side,
                                 [(t + shift, n) for t, n in lane.points], lane.count))
        for m in up.markers:
            label = {"disconnect": "upstream closed", "upstream-end": f"upstream {m.label}",
                     "info": f"upstream {m.label}"}.get(m.kind, m.label)
            tl.markers.append(Marker(m.at + shift, label, m.kind))
        tl.spans.extend(Span(s.start + shift, s.end + shift, s.label, s.kind) for s in up.spans)
    tl.lanes.append(Lane("browser arrivals", "client", [(t, n) for t, n, _ in side.arrivals]))
    if side.stopped is not None:
        tl.markers.append(Marker(side.stopped, "Stop", "stop"))
    return {"upstream": summary(rec) if rec is not None else None, "figures": figures,
            "svg": render(tl, side.width)}
