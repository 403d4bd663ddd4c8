"""A self-contained HTML report of a load run, in the check report's style: the figures, then
TTFT and inter-token gaps over time and their distributions as inline SVG (no scripts)."""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import Any

from ..check.report_html import STYLE
from . import charts
from .report import LoadReport, _ms, _num, over_time

EXTRA_STYLE = (".chart{display:block;margin:6px 0 14px}"
               ".find{margin:6px 0;padding:6px 12px;border-radius:6px;background:#fff6e0;"
               "color:#7a4b00}")


def _row(label: str, figs: dict[str, Any], fmt: Any) -> str:
    cells = "".join(f"<td>{escape(fmt(figs[k]))}</td>" for k in ("p50", "p90", "p99", "max"))
    return f"<tr><td>{escape(label)}</td>{cells}<td>{figs['count']:,}</td></tr>"


def _client(report: LoadReport) -> str:
    f = report.client.figures()
    o = f["outcomes"]
    rows = "".join([
        _row("TTFT", f["ttft_ms"], _ms), _row("inter-token gap", f["gap_ms"], _ms),
        _row("gap between arrivals", f["arrival_gap_ms"], _ms),
        _row("gap p99 per stream", f["stream_gap_p99_ms"], _ms),
        _row("stream time (complete)", f["stream_ms"], _ms),
        _row("tokens/s per stream", f["tokens_per_s"], _num),
        _row("tokens per arrival", f["tokens_per_arrival"], _num)])
    outcomes = ", ".join(f"{n:,} {k}" for k, n in o.items())
    errors = "".join(f"<tr><td>{n:,}</td><td>{escape(m)}</td></tr>"
                     for m, n in list(f["errors"].items())[:10])
    return (f"<h2>Client: what users saw</h2><table><tr><th></th><th>p50</th><th>p90</th>"
            f"<th>p99</th><th>max</th><th>count</th></tr>{rows}</table>"
            f"<p>{f['streams']:,} streams: {escape(outcomes)}.</p>"
            + (f"<table><tr><th>streams</th><th>error</th></tr>{errors}</table>"
               if errors else ""))


def _upstream(up: dict[str, Any] | None) -> str:
    if up is None:
        return "<h2>Upstream</h2><p>Not observed (--no-upstream).</p>"
    dw = up["drain_wait_ms"]
    rows = [("opened", up["opened"]), ("completed", up["completed"]),
            ("closed early by the endpoint", up["closed_early"]),
            ("… of them at the run's end", up["closed_early_at_run_end"]),
            (f"read late (≥ {up['read_late_threshold_ms']:g} ms of drain waits)",
             up["read_late"]),
            ("drain waits in all / worst stream", f"{_ms(dw['total'])} / {_ms(dw['max'])}"),
            ("still open", up["still_open"]),
            ("simulator first byte p50 / p99", f"{_ms(up['first_byte_ms']['p50'])} / "
                                               f"{_ms(up['first_byte_ms']['p99'])}")]
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return (f"<h2>Upstream: what the simulator at {escape(up['simulator'])} saw</h2>"
            f'<table class="m">{body}</table>')


def to_html(report: LoadReport) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.started_at))
    slices = over_time(report.client)
    findings = "".join(f'<p class="find">{escape(f)}</p>' for f in report.findings())
    failed = report.client.failed
    banner = (f'<div class="banner bad">{failed:,} streams failed</div>' if failed else
              '<div class="banner ok">No stream failed</div>')
    pictures = "\n".join([
        charts.over_time("TTFT over the run (per slice: p50, p90, p99)", slices, "ttft_ms"),
        charts.over_time("Inter-token gap over the run (per slice: p50, p90, p99)", slices,
                         "gap_ms"),
        charts.distribution("TTFT distribution (log axis)", report.client.ttft),
        charts.distribution("Inter-token gap distribution (log axis)", report.client.gap),
        charts.distribution("Tokens per arrival (log axis; 1 = each token as it came)",
                            report.client.per_arrival, unit="tokens")])
    workers = (f" · {len(report.workers)} workers" if report.workers else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sselab load: {escape(report.endpoint)}</title><style>{STYLE}{EXTRA_STYLE}</style></head>
<body>
<h1>sselab load</h1>
<div class="meta">{escape(report.endpoint)} · {report.users} users (spawn
 {report.spawn_rate:g}/s) · {report.duration:.1f} s · {escape(report.mode)}{workers}
 · upstream scenario {escape(report.scenario or "—")} · {when}</div>
{banner}{findings}
{_client(report)}
{_upstream(report.upstream)}
<h2>Pictures</h2>
<p class="legend">Time runs from the first stream's start. A relay that forwards each token
shows gaps near the upstream's pacing and one token per arrival; a buffer shows a TTFT close to
the whole stream, few long gaps and many tokens per arrival.</p>
{pictures}
</body></html>
"""


def write(report: LoadReport, path: str | Path) -> None:
    Path(path).write_text(to_html(report), encoding="utf-8")
