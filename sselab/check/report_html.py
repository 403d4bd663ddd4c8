"""A self-contained HTML report: the verdict table, then per check its message, measurements
and timeline pictures (inline SVG; no scripts, fonts or images from anywhere)."""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path
from typing import Any

from ..timeline import svg as timeline_svg
from .model import CheckResult, Report

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:960px;color:#222;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0}
.meta{color:#666;margin-bottom:16px}
table{border-collapse:collapse;width:100%;margin:8px 0 16px}
td,th{border-bottom:1px solid #e5e5e5;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600}td:first-child{white-space:nowrap}
.v{display:inline-block;min-width:44px;text-align:center;border-radius:4px;color:#fff;
font-weight:700;font-size:12px;padding:1px 6px}
.pass{background:#1f9d55}.warn{background:#d69e2e}.skip{background:#3182ce}
.fail{background:#e53e3e}.error{background:#805ad5}
section{border:1px solid #e2e2e2;border-radius:8px;padding:14px 16px;margin:16px 0}
section header{display:flex;gap:10px;align-items:center;margin-bottom:6px}
.msg{margin:6px 0 10px}.m td:first-child{color:#555;width:40%;font-family:monospace}
.m td{font-family:monospace;font-size:12px;padding:2px 8px}
details{margin:6px 0}summary{cursor:pointer;color:#555}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px;white-space:pre-wrap}
.legend{font-size:12px;color:#555;margin:4px 0 10px}
.legend b.u{color:#2f6fdf}.legend b.c{color:#1f9d55}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}
.banner.ok{background:#e6f6ec;color:#17603a}.banner.bad{background:#fdeaea;color:#9b1c1c}
"""


def _value(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return escape(json.dumps(v, ensure_ascii=False, default=str))
    return escape("—" if v is None else str(v))


def _section(r: CheckResult) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{_value(v)}</td></tr>"
                   for k, v in r.measurements.items())
    parts = [f'<section id="check-{escape(r.name)}"><header><span class="v {r.verdict}">'
             f'{r.verdict.upper()}</span><h2>{escape(r.title)} <small>({escape(r.name)}, '
             f'{r.duration:.1f} s)</small></h2></header>',
             f'<p class="msg">{escape(r.message)}</p>']
    for tl in r.timelines:
        parts.append(f"<h3>{escape(tl.title)}</h3>" if tl.title else "")
        parts.append(timeline_svg.render(tl))
    if rows:
        parts.append(f'<table class="m">{rows}</table>')
    if r.details:
        parts.append("<details><summary>details</summary><pre>"
                     + escape("\n".join(r.details)) + "</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def to_html(report: Report) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.started_at))
    counts = ", ".join(f"{n} {v}" for v, n in report.counts().items() if n)
    rows = "".join(
        f'<tr><td><a href="#check-{escape(r.name)}">{escape(r.name)}</a></td>'
        f'<td><span class="v {r.verdict}">{r.verdict.upper()}</span></td>'
        f"<td>{r.duration:.1f} s</td><td>{escape(r.message)}</td></tr>" for r in report.results)
    banner = ('<div class="banner ok">All checks passed</div>' if report.ok else
              f'<div class="banner bad">Failed: {escape(", ".join(report.failed) or "preflight")}'
              "</div>")
    pre = (f'<p class="banner bad">Preflight: {escape(report.preflight)}</p>'
           if report.preflight else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sselab check: {escape(report.endpoint)}</title><style>{STYLE}</style></head>
<body>
<h1>sselab check</h1>
<div class="meta">{escape(report.endpoint)} · upstream simulator {escape(report.upstream)}
 · stream shape {escape(report.shape or "?")} · {when} · {report.duration:.1f} s
 · {escape(counts)}</div>
{banner}{pre}
<table><tr><th>check</th><th>verdict</th><th>time</th><th>result</th></tr>{rows}</table>
<p class="legend">Timelines: <b class="u">upstream</b> ticks are the simulator's writes to the
endpoint; <b class="c">client</b> ticks are what sselab's client read from the endpoint (tick
height grows with bytes; the faint line is each lane's share of its bytes so far). Many upstream
ticks over one late client tick is a buffer; upstream ticks after "client left" are a late
abort.</p>
{"".join(_section(r) for r in report.results)}
</body></html>
"""


def write(report: Report, path: str | Path) -> None:
    Path(path).write_text(to_html(report), encoding="utf-8")
