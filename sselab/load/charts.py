"""Inline SVG pictures for the load report, in the check report's look (its sizes, colours and
time axis): a percentile band over time, and a distribution on a log axis."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from ..timeline.svg import COLORS, WIDTH, _fmt, _step
from .hist import Hist

HEIGHT = 190
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 30
LINES = (("p50", COLORS["client"], "1.8", ""), ("p90", COLORS["upstream"], "1.3", "5 3"),
         ("p99", "#d62728", "1.2", "2 2"))


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(top))
    for m in (1, 2, 2.5, 5, 10):
        if top <= m * mag:
            return m * mag
    return 10 * mag


def _value(v: float, unit: str) -> str:
    if unit == "ms":
        return f"{v / 1000:g} s" if v >= 1000 else f"{v:g} ms"
    return f"{v:g}"


def _frame(title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
            f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
            f'<text x="{LEFT}" y="16" font-size="12" fill="#333">{escape(title)}</text>']


def over_time(title: str, slices: list[dict[str, Any]], key: str, unit: str = "ms") -> str:
    """p50 / p90 / p99 of ``slices[i][key]`` against the slice's start (s into the run)."""
    points = [s for s in slices if s[key].get("count")]
    out = _frame(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if not points:
        out.append(f'<text x="{LEFT}" y="{TOP + plot_h / 2}" font-size="12" fill="#888">'
                   "no values</text></svg>")
        return "\n".join(out)
    span = max(s["t"] + s["width"] for s in slices) or 1
    top = _nice(max(s[key]["p99"] or 0 for s in points) * 1.05)

    def x(t: float) -> float:
        return LEFT + t / span * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - min(v, top) / top * plot_h

    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa"/>')
    for i in range(5):
        v = top * i / 4
        out.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + plot_w}" y2="{y(v):.1f}" '
                   'stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="10" fill="#666" '
                   f'text-anchor="end">{escape(_value(round(v, 3), unit))}</text>')
    for name, color, width, dash in LINES:
        pts = " ".join(f"{x(s['t'] + s['width'] / 2):.1f},{y(s[key][name] or 0):.1f}"
                       for s in points)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                   f'stroke-width="{width}" stroke-dasharray="{dash}"><title>{name}</title>'
                   "</polyline>")
    for k, (name, color, _, _) in enumerate(LINES):
        out.append(f'<text x="{WIDTH - RIGHT - 150 + k * 50}" y="16" font-size="11" '
                   f'fill="{color}">— {name}</text>')
    step = _step(span)
    base = TOP + plot_h
    t = 0.0
    while t <= span + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{base}" x2="{x(t):.1f}" y2="{base + 4}" '
                   'stroke="#999"/>')
        out.append(f'<text x="{x(t):.1f}" y="{base + 16}" font-size="10" fill="#666" '
                   f'text-anchor="middle">{_fmt(t, step)}</text>')
        t = round(t + step, 6)
    out.append("</svg>")
    return "\n".join(out)


def distribution(title: str, hist: Hist, unit: str = "ms", bins: int = 48) -> str:
    """Bars of ``hist`` on a log axis (``bins`` bins between its smallest and largest value;
    values under 0.1 ms, zero gaps included, count as 0.1 ms)."""
    out = _frame(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = {hist.value_of(k): n for k, n in hist.counts.items()}
    if not values:
        out.append(f'<text x="{LEFT}" y="{TOP + plot_h / 2}" font-size="12" fill="#888">'
                   "no values</text></svg>")
        return "\n".join(out)
    floor = 0.1 if unit == "ms" else 1.0
    lo = math.log10(max(floor, min(values)))
    hi = math.log10(max(floor, max(values))) + 1e-9
    if hi - lo < 2:  # at least two decades, the values in the middle
        mid = (lo + hi) / 2
        lo, hi = mid - 1, mid + 1
    counts = [0] * bins
    for v, n in values.items():
        k = int((math.log10(max(floor, v)) - lo) / (hi - lo) * bins)
        counts[min(bins - 1, max(0, k))] += n
    tallest = max(counts) or 1
    bar_w = plot_w / bins
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa"/>')
    for k, n in enumerate(counts):
        if n:
            h = max(1.0, n / tallest * plot_h)
            at = 10 ** (lo + (k + 0.5) / bins * (hi - lo))
            out.append(f'<rect x="{LEFT + k * bar_w + 0.5:.1f}" y="{TOP + plot_h - h:.1f}" '
                       f'width="{max(1.0, bar_w - 1):.1f}" height="{h:.1f}" '
                       f'fill="{COLORS["upstream"]}"><title>~{_value(round(at, 1), unit)}: '
                       f"{n:,}</title></rect>")
    for row, (name, q) in enumerate((("p50", 0.5), ("p99", 0.99))):
        v = hist.percentile(q)
        if v is None:
            continue
        px = LEFT + (math.log10(max(floor, v)) - lo) / (hi - lo) * plot_w
        anchor, dx = ("end", -3) if px > WIDTH - 140 else ("start", 3)
        out.append(f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + plot_h}" '
                   'stroke="#d62728" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{px + dx:.1f}" y="{TOP + 11 + row * 12}" font-size="10" '
                   f'fill="#d62728" text-anchor="{anchor}">'
                   f"{name} {escape(_value(round(v, 1), unit))}</text>")
    base = TOP + plot_h
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        if lo - 1e-9 <= e <= hi + 1e-9:
            px = LEFT + (e - lo) / (hi - lo) * plot_w
            out.append(f'<line x1="{px:.1f}" y1="{base}" x2="{px:.1f}" y2="{base + 4}" '
                       'stroke="#999"/>')
            out.append(f'<text x="{px:.1f}" y="{base + 16}" font-size="10" fill="#666" '
                       f'text-anchor="middle">{escape(_value(10.0 ** e, unit))}</text>')
    out.append(f'<text x="{LEFT - 6}" y="{TOP + 10}" font-size="10" fill="#666" '
               f'text-anchor="end">{tallest:,}</text>')
    out.append("</svg>")
    return "\n".join(out)
