"""A :class:`~sselab.check.model.Timeline` as an inline SVG picture (no external assets).

One lane per side: a tick per upstream write / client read (height grows with the bytes, on a
log scale) and a faint line of the lane's cumulative share of its bytes; vertical dashed lines
mark events (client left, upstream ended, error). A buffered relay shows many upstream ticks
over one late client tick; a late abort shows upstream ticks running on after "client left".
"""

from __future__ import annotations

import math
from html import escape

from .model import Timeline

WIDTH = 920
LABEL_W = 150
LANE_H = 38
TOP = 34
AXIS_H = 26
COLORS = {"upstream": "#2f6fdf", "client": "#1f9d55"}
MARKER_COLORS = {"disconnect": "#e67e22", "upstream-end": "#7f8c8d", "error": "#d62728",
                 "timeout": "#d62728", "info": "#8e44ad"}


def _step(span: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120):
        if span / step <= 10:
            return step
    return 300.0


def _fmt(t: float, step: float) -> str:
    return f"{t * 1000:.0f} ms" if step < 0.1 else f"{t:g} s"


def _noun(side: str) -> str:
    return "writes" if side == "upstream" else "reads"


def render(tl: Timeline) -> str:
    span = max(tl.span * 1.04, 0.05)
    plot_w = WIDTH - LABEL_W - 16
    height = TOP + LANE_H * len(tl.lanes) + AXIS_H

    def x(t: float) -> float:
        return LABEL_W + max(0.0, t) / span * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
           f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="{escape(tl.title)}">',
           f'<title>{escape(tl.title)}</title>',
           f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>']
    biggest = max((n for lane in tl.lanes for _, n in lane.points), default=1) or 1
    for i, lane in enumerate(tl.lanes):
        y0 = TOP + i * LANE_H
        base = y0 + LANE_H - 6
        color = COLORS.get(lane.side, "#555")
        fill = "#f4f7fd" if lane.side == "upstream" else "#f3faf5"
        total = sum(n for _, n in lane.points)
        count = len(lane.points) if lane.count is None else lane.count
        out.append(f'<rect x="{LABEL_W}" y="{y0 + 2}" width="{plot_w}" height="{LANE_H - 4}" '
                   f'fill="{fill}"/>')
        out.append(f'<text x="{LABEL_W - 8}" y="{y0 + LANE_H / 2 + 4}" text-anchor="end" '
                   f'font-size="12" fill="{color}">{escape(lane.label)}</text>')
        out.append(f'<text x="{LABEL_W - 8}" y="{y0 + LANE_H / 2 + 16}" text-anchor="end" '
                   f'font-size="9" fill="#888">{count:,} {_noun(lane.side)}, '
                   f'{total:,} B</text>')
        ticks = []
        for t, n in lane.points:
            h = 4 + (LANE_H - 14) * math.log1p(n) / math.log1p(biggest)
            ticks.append(f"M{x(t):.1f} {base}v{-h:.1f}")
        if ticks:
            out.append(f'<path d="{" ".join(ticks)}" stroke="{color}" stroke-width="1.2" '
                       f'fill="none"><title>{escape(lane.label)}: {count:,} '
                       f'{_noun(lane.side)}, {total:,} bytes'
                       f'</title></path>')
        if total:
            acc, pts = 0, [f"{x(0):.1f},{base}"]
            for t, n in lane.points:
                pts.append(f"{x(t):.1f},{base - acc / total * (LANE_H - 10):.1f}")
                acc += n
                pts.append(f"{x(t):.1f},{base - acc / total * (LANE_H - 10):.1f}")
            out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" '
                       'stroke-opacity="0.35" stroke-width="1.5"/>')
    bottom = TOP + LANE_H * len(tl.lanes)
    for k, m in enumerate(sorted(tl.markers, key=lambda m: m.at)):
        color = MARKER_COLORS.get(m.kind, "#555")
        mx = x(m.at)
        ly = 12 + (k % 2) * 12
        anchor = "end" if mx > WIDTH - 140 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(f'<line x1="{mx:.1f}" y1="{ly + 2}" x2="{mx:.1f}" y2="{bottom}" '
                   f'stroke="{color}" stroke-dasharray="4 3" stroke-width="1.2"/>')
        out.append(f'<text x="{mx + dx:.1f}" y="{ly}" font-size="10" fill="{color}" '
                   f'text-anchor="{anchor}">{escape(m.label)} ({_fmt(m.at, 0.01)})</text>')
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
