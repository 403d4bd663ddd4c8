"""One simulator request as the lab shows it: a summary line and a timeline picture.

The picture (a :class:`~sselab.timeline.Timeline`, drawn by the same code as the check report)
has a lane of data writes and, when there were any, a lane of keep-alives; spans for each
scripted stall (up to now, or to the end), each write that waited for a slow reader, and a write
blocked right now; markers for the first byte, each fault that fired and the end (the client
going away, the fault that closed or reset it, completion).
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from ..scenario.schema import Scenario
from ..script.events import ErrorEvent, Stall
from ..server.recorder import RequestRecord
from ..timeline import Lane, Marker, Span, Timeline
from .replay import Replay

DRAIN_SPAN = 0.005  # a write that waited at least this long for the reader gets a span
MAX_DRAIN_SPANS = 200
MAX_POINTS = 4_000

END_WORDS = {"completed": ("completed", "upstream-end"),
             "client_disconnected": ("client went away", "disconnect"),
             "fault_closed": ("fault: connection closed", "error"),
             "fault_reset": ("fault: connection reset", "error"),
             "error_event": ("error event sent, ended", "upstream-end"),
             "http_error": ("HTTP error sent", "error")}


def summary(rec: RequestRecord) -> dict[str, Any]:
    """The record's summary (no writes), plus its TTFT and duration in milliseconds."""
    out = rec.to_json(writes=False)
    out["ttft_ms"] = (None if rec.first_byte is None
                      else round((rec.first_byte - rec.received) * 1000, 1))
    end = rec.ended if rec.ended is not None else None
    out["duration_ms"] = None if end is None else round((end - rec.received) * 1000, 1)
    return out


def describe_faults(scenario: Scenario | None) -> list[str]:
    """Each fault of the scenario in one phrase: ``stall at_token=10 ms=30000``."""
    if scenario is None:
        return []
    out = []
    for fault in scenario.faults:
        attrs = " ".join(f"{f.name}={_value(getattr(fault, f.name))}" for f in fields(fault)
                         if getattr(fault, f.name) != f.default)
        out.append(f"{fault.type_name} {attrs}".strip())
    return out


def _value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else repr(v)


def _thin(points: list[tuple[float, int]]) -> list[tuple[float, int]]:
    if len(points) <= MAX_POINTS:
        return points
    start, end = points[0][0], points[-1][0]
    width = (end - start) / MAX_POINTS or 1e-9
    bins: dict[int, list[float]] = {}
    for t, n in points:
        b = bins.setdefault(min(MAX_POINTS - 1, int((t - start) / width)), [t, 0])
        b[1] += n
    return [(t, int(n)) for t, n in bins.values()]


def request_timeline(rec: RequestRecord, rp: Replay, now: float | None = None) -> Timeline:
    """The picture of one request; ``now`` (monotonic) bounds what is still running."""
    t0 = rec.received
    now = time.monotonic() if now is None else now
    upto = (rec.ended if rec.ended is not None else now) - t0
    writes = list(rec.writes)
    kinds = [p.kind for p in rp.pieces] + ["data"] * (len(writes) - len(rp.pieces))
    data = [(t - t0, n) for (t, n, _, _), k in zip(writes, kinds) if k == "data"]
    pings = [(t - t0, n) for (t, n, _, _), k in zip(writes, kinds) if k == "keepalive"]
    title = (f"{rec.id} {rec.method} {rec.path} scenario={rec.scenario or '-'} "
             f"{rec.outcome}")
    tl = Timeline(title, [Lane("writes", "upstream", _thin(data), len(data))])
    if pings:
        tl.lanes.append(Lane("keep-alives", "keepalive", _thin(pings), len(pings)))
    if rec.first_byte is not None:
        tl.markers.append(Marker(rec.first_byte - t0, "first byte", "info"))
    for c in rp.controls:
        if c.at > upto:
            continue
        ev = c.event
        if isinstance(ev, Stall):
            end = upto if ev.seconds is None else min(c.at + ev.seconds, upto)
            what = "stall" if ev.seconds is not None else "stall (forever)"
            if ev.keepalive:
                what += f", keep-alive every {ev.keepalive:g} s"
            tl.spans.append(Span(c.at, end, what, "stall"))
    for e in rp.errors:
        if e.at <= upto and isinstance(e.event, ErrorEvent):
            tl.markers.append(Marker(e.at, f"fault: error event ({e.event.kind})", "error"))
    waits = sorted(((t - t0, d) for t, _, d, _ in writes if d >= DRAIN_SPAN),
                   key=lambda w: -w[1])[:MAX_DRAIN_SPANS]
    for at, d in waits:
        tl.spans.append(Span(at, at + d, "waited for the reader", "drain"))
    if rec.blocked_since is not None and rec.ended is None:
        tl.spans.append(Span(rec.blocked_since - t0, upto, "blocked on a slow reader", "blocked"))
    if rec.ended is not None:
        words, kind = END_WORDS.get(rec.outcome, (rec.outcome, "upstream-end"))
        tl.markers.append(Marker(rec.ended - t0, words, kind))
    elif not tl.spans or max(s.end for s in tl.spans) < upto:
        tl.markers.append(Marker(upto, "now (still running)", "info"))
    return tl
