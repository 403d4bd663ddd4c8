"""A :class:`~sselab.timeline.model.Timeline` as an inline SVG picture (no external assets).

One lane per side: a tick per write / read (height grows with the bytes, on a log scale) and a
faint line of the lane's cumulative share of its bytes; vertical dashed lines mark events
(client left, upstream ended, error, Stop); shaded bands mark spans (a stall, a write waiting
for a slow reader). A buffered relay shows many upstream ticks over one late client tick; a late
abort shows upstream ticks running on after "client left"; a stall is a band with no ticks.

The check report and the lab (``/_sselab/ui``, ``sselab demo``) both draw with :func:`render`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from .model import Lane, Timeline

Scale = Callable[[float], float]

WIDTH = 920
LABEL_W = 150
LANE_H = 38
TOP = 34
AXIS_H = 26
COLORS = {"upstream": "#2f6fdf", "client": "#1f9d55", "keepalive": "#8e44ad"}
FILLS = {"upstream": "#f4f7fd", "client": "#f3faf5", "keepalive": "#f8f3fb"}
MARKER_COLORS = {"disconnect": "#e67e22", "upstream-end": "#7f8c8d", "error": "#d62728",
                 "timeout": "#d62728", "info": "#8e44ad", "stop": "#c0392b"}
SPAN_COLORS = {"stall": "#d69e2e", "drain": "#e67e22", "blocked": "#e67e22"}
NOUNS = {"upstream": "writes", "client": "reads", "keepalive": "keep-alives"}


def _step(span: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120):
        if span / step <= 10:
            return step
    return 300.0


def _fmt(t: float, step: float) -> str:
    return f"{t * 1000:.0f} ms" if step < 0.1 else f"{t:g} s"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def render(tl: Timeline, width: int = WIDTH) -> str:
    """The picture as one ``<svg>`` element (``class="timeline"``, ``role="img"``)."""
    span = max(tl.span * 1.04, 0.05)
    plot_w = width - LABEL_W - 16
    height = TOP + LANE_H * len(tl.lanes) + AXIS_H

    def x(t: float) -> float:
        return LABEL_W + max(0.0, t) / span * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(tl.title)}">',
           f'<title>{escape(tl.title)}</title>',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    biggest = max((n for lane in tl.lanes for _, n in lane.points), default=1) or 1
    bottom = TOP + LANE_H * len(tl.lanes)
    for i, lane in enumerate(tl.lanes):
        y0 = TOP + i * LANE_H
        out.append(f'<rect x="{LABEL_W}" y="{y0 + 2}" width="{plot_w}" height="{LANE_H - 4}" '
                   f'fill="{FILLS.get(lane.side, "#f6f6f6")}"/>')
    out.extend(_spans(tl, x, bottom))
    for i, lane in enumerate(tl.lanes):
        out.extend(_lane(lane, TOP + i * LANE_H, x, plot_w, biggest))
    out.extend(_markers(tl, x, bottom, width))
    step = _step(span)
    out.append(f'<line x1="{LABEL_W}" y1="{bottom}" x2="{LABEL_W + plot_w}" y2="{bottom}" '
               'stroke="#999"/>')
    t = 0.0
    while t <= span + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{bottom}" x2="{x(t):.1f}" y2="{bottom + 4}" '
                   'stroke="#999"/>')
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 16}" font-size="10" fill="#666" '
                   f'text-anchor="middle">{_fmt(t, step)}</text>')
        t = round(t + step, 6)
    out.append("</svg>")
    return "\n".join(out)


def _lane(lane: Lane, y0: float, x: Scale, plot_w: float, biggest: int) -> list[str]:
    base = y0 + LANE_H - 6
    color = COLORS.get(lane.side, "#555")
    noun = NOUNS.get(lane.side, "writes")
    total = sum(n for _, n in lane.points)
    count = len(lane.points) if lane.count is None else lane.count
    out = [f'<text x="{LABEL_W - 8}" y="{y0 + LANE_H / 2 + 4}" text-anchor="end" '
           f'font-size="12" fill="{color}">{escape(lane.label)}</text>',
           f'<text x="{LABEL_W - 8}" y="{y0 + LANE_H / 2 + 16}" text-anchor="end" '
           f'font-size="9" fill="#888">{count:,} {noun}, {total:,} B</text>']
    ticks = []
    for t, n in lane.points:
        h = 4 + (LANE_H - 14) * math.log1p(n) / math.log1p(biggest)
        ticks.append(f"M{x(t):.1f} {base}v{-h:.1f}")
    if ticks:
        out.append(f'<path class="ticks {escape(lane.side)}" d="{" ".join(ticks)}" '
                   f'stroke="{color}" stroke-width="{1.2 if len(ticks) > 12 else 2.4}" '
                   f'fill="none"><title>'
                   f'{escape(lane.label)}: {count:,} {noun}, {total:,} bytes</title></path>')
    if total and lane.side != "keepalive":
        acc, pts = 0, [f"{x(0):.1f},{base}"]
        for t, n in lane.points:
            pts.append(f"{x(t):.1f},{base - acc / total * (LANE_H - 10):.1f}")
            acc += n
            pts.append(f"{x(t):.1f},{base - acc / total * (LANE_H - 10):.1f}")
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" '
                   'stroke-opacity="0.35" stroke-width="1.5"/>')
    return out


def _spans(tl: Timeline, x: Scale, bottom: float) -> list[str]:
    out = []
    for s in sorted(tl.spans, key=lambda s: s.start):
        color = SPAN_COLORS.get(s.kind, "#999")
        x0, x1 = x(s.start), x(max(s.end, s.start))
        w = max(x1 - x0, 1.5)
        label = f"{s.label} ({_duration(s.end - s.start)})"
        out.append(f'<g class="span {escape(s.kind)}"><rect x="{x0:.1f}" y="{TOP}" '
                   f'width="{w:.1f}" height="{bottom - TOP}" fill="{color}" fill-opacity="0.16" '
                   f'stroke="{color}" stroke-opacity="0.5" stroke-width="0.8"/>'
                   f'<title>{escape(label)}</title>')
        if w > 60:
            out.append(f'<text x="{x0 + w / 2:.1f}" y="{TOP + 12}" font-size="10" '
                       f'fill="{color}" text-anchor="middle">{escape(label)}</text>')
        out.append("</g>")
    return out


def _markers(tl: Timeline, x: Scale, bottom: float, width: int) -> list[str]:
    out = []
    for k, m in enumerate(sorted(tl.markers, key=lambda m: m.at)):
        color = MARKER_COLORS.get(m.kind, "#555")
        mx = x(m.at)
        ly = 12 + (k % 2) * 12
        anchor = "end" if mx > width - 140 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(f'<line x1="{mx:.1f}" y1="{ly + 2}" x2="{mx:.1f}" y2="{bottom}" '
                   f'stroke="{color}" stroke-dasharray="4 3" stroke-width="1.2"/>')
        out.append(f'<text x="{mx + dx:.1f}" y="{ly}" font-size="10" fill="{color}" '
                   f'text-anchor="{anchor}">{escape(m.label)} ({_fmt(m.at, 0.01)})</text>')
    return out
