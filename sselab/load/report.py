"""The summary of a load run (:class:`LoadReport`): the terminal table and JSON.

The client's view (what users saw: TTFT, gaps, tokens per arrival, outcomes) comes from the
:class:`~sselab.load.stats.Aggregate`; the upstream's view (what the endpoint did to its
provider call) from the simulator's timeline (:func:`~sselab.load.upstream.upstream_view`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stats import Aggregate

LUMPY = 3.0  # tokens per text arrival above which the stream arrives in lumps


@dataclass
class LoadReport:
    endpoint: str
    client: Aggregate
    users: int = 0
    spawn_rate: float = 0.0
    run_time: float = 0.0
    duration: float = 0.0  # s, from the start of spawning to the last stream's end
    load_time: float = 0.0  # s of the run time (then streams in flight may finish)
    started_at: float = 0.0  # unix seconds
    mode: str = "local"  # local | master | worker
    scenario: str | None = None
    upstream: dict[str, Any] | None = None
    locust: dict[str, dict[str, Any]] = field(default_factory=dict)  # request name → figures
    workers: dict[str, int] = field(default_factory=dict)  # worker id → its own total
    notes: list[str] = field(default_factory=list)

    def findings(self) -> list[str]:
        """Plain sentences about what the figures show."""
        out: list[str] = []
        c, figs = self.client, self.client.figures()
        per = figs["tokens_per_arrival"]["overall"]
        if per is not None and per > LUMPY:
            out.append(f"lumps: {per:g} tokens per arrival on average (max "
                       f"{figs['tokens_per_arrival']['max']:g}): the stream is held back and "
                       "sent in pieces, not token by token")
        ttft, stream = figs["ttft_ms"]["p50"], figs["stream_ms"]["p50"]
        if ttft and stream and ttft > 0.8 * stream and stream > 500:
            out.append(f"the first text arrives at {ttft:g} ms of a {stream:g} ms stream "
                       "(p50): the answer is buffered")
        up = self.upstream
        aborted = c.outcomes.get("aborted", 0)
        if up is not None and up["opened"] == 0 and c.streams:
            out.append("the endpoint never called the simulator at "
                       f"{up['simulator']}: is the app's provider base URL set to it, e.g. "
                       f"OPENAI_BASE_URL={up['simulator']}/v1?")
        elif up is not None and aborted:
            early = up["closed_early"] - up["closed_early_at_run_end"]
            if early < aborted * 0.5:
                out.append(f"the client dropped {aborted} streams but the endpoint closed only "
                           f"{early} upstream calls early: it keeps reading (and paying for) "
                           "answers nobody reads")
        if up is not None and up["read_late"]:
            out.append(f"{up['read_late']} upstream streams were read late (the simulator "
                       f"waited {up['drain_wait_ms']['total']:g} ms in all on a full socket)")
        if self.workers:
            total = sum(self.workers.values())
            agree = "equal" if total == c.streams else "DIFFER from"
            out.append(f"workers' own totals {total} ({', '.join(map(str, self.workers.values()))}"
                       f") {agree} the master's {c.streams} streams")
        return out + self.notes

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "mode": self.mode, "users": self.users,
            "spawn_rate": self.spawn_rate, "run_time": self.run_time,
            "duration": round(self.duration, 3), "load_time": round(self.load_time, 3),
            "started_at": self.started_at,
            "scenario": self.scenario, "client": self.client.figures(),
            "upstream": self.upstream, "locust": self.locust, "workers": self.workers,
            "findings": self.findings(),
            "over_time": over_time(self.client),
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


def over_time(agg: Aggregate, columns: int = 60) -> list[dict[str, Any]]:
    """TTFT and gap percentiles per time slice (at most ``columns`` slices, ≥ 1 s each)."""
    if not agg.bins:
        return []
    first, last = min(agg.bins), max(agg.bins)
    width = max(1, -(-(last - first + 1) // columns))
    slices: dict[int, Aggregate] = {}
    for sec, hists in agg.bins.items():
        k = (sec - first) // width
        s = slices.setdefault(k, Aggregate())
        s.ttft.merge(hists["ttft"])
        s.gap.merge(hists["gap"])
    out = []
    for k in sorted(slices):
        s = slices[k]
        out.append({"t": k * width, "width": width,
                    "ttft_ms": {q: s.ttft.percentile(v) for q, v in
                                (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))} | {
                                    "count": s.ttft.count},
                    "gap_ms": {q: s.gap.percentile(v) for q, v in
                               (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))} | {
                                   "count": s.gap.count}})
    return out


def _ms(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 1000:.2f} s" if v >= 10_000 else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _row(label: str, figs: dict[str, Any], fmt: Any) -> str:
    return (f"  {label:<26}{fmt(figs['p50']):>10}{fmt(figs['p90']):>10}{fmt(figs['p99']):>10}"
            f"{fmt(figs['max']):>10}{figs['count']:>9,}")


def plain_summary(agg: Aggregate) -> str:
    """The client's view alone (``locust -f`` runs print this at the end)."""
    figs = agg.figures()
    o = figs["outcomes"]
    lines = [f"  {'client (what users saw)':<26}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}"
             f"{'count':>9}",
             _row("TTFT", figs["ttft_ms"], _ms),
             _row("inter-token gap", figs["gap_ms"], _ms),
             _row("gap between arrivals", figs["arrival_gap_ms"], _ms),
             _row("gap p99 per stream", figs["stream_gap_p99_ms"], _ms),
             _row("stream time (complete)", figs["stream_ms"], _ms),
             _row("tokens/s per stream", figs["tokens_per_s"], _num),
             _row("tokens per arrival", figs["tokens_per_arrival"], _num),
             f"  streams: {figs['streams']:,} — {o['complete']:,} complete, {o['error']:,} error, "
             f"{o['timeout']:,} timeout, {o['aborted']:,} aborted (on purpose), {o['cut']:,} "
             "cut at the run's end"]
    for msg, n in list(figs["errors"].items())[:5]:
        lines.append(f"    {n:>6,} × {msg}")
    return "\n".join(lines)


def _span(report: LoadReport) -> str:
    tail = report.duration - report.load_time
    if report.load_time and tail > 0.5:
        return f"{report.load_time:.1f} s (+ {tail:.1f} s for streams in flight to finish)"
    return f"{report.duration:.1f} s"


def table(report: LoadReport) -> str:
    """The closing summary for the terminal."""
    head = (f"sselab load {report.endpoint}: {report.users} users "
            f"(spawn {report.spawn_rate:g}/s), {_span(report)}"
            + (f", {len(report.workers)} workers" if report.workers else "")
            + (f", upstream scenario {report.scenario}" if report.scenario and report.upstream
               else ""))
    lines = [head, plain_summary(report.client)]
    up = report.upstream
    if up is not None:
        lines.append(f"  upstream (what the simulator at {up['simulator']} saw)")
        lines.append(f"    opened {up['opened']:,} streams: {up['completed']:,} completed, "
                     f"{up['closed_early']:,} closed early by the endpoint"
                     + (f" ({up['closed_early_at_run_end']:,} when the run's end cut them)"
                        if up["closed_early_at_run_end"] else "") + ", "
                     f"{up['still_open']:,} still open")
        dw = up["drain_wait_ms"]
        lines.append(f"    read late: {up['read_late']:,} streams waited ≥ "
                     f"{up['read_late_threshold_ms']:g} ms on the endpoint to read (drain waits "
                     f"{_ms(dw['total'])} in all, worst stream {_ms(dw['max'])})")
        other = {k: v for k, v in up["outcomes"].items()
                 if k not in ("completed", "client_disconnected", "in_progress")}
        if other:
            lines.append("    other outcomes: " + ", ".join(f"{k} {v}" for k, v in other.items()))
    for f in report.findings():
        lines.append(f"  ! {f}")
    return "\n".join(lines)


def progress_line(elapsed: float, users: int, agg: Aggregate) -> str:
    figs = agg.figures()
    o = figs["outcomes"]
    return (f"  {elapsed:5.0f} s  users {users:>4}  streams {figs['streams']:>6,} "
            f"(complete {o['complete']:,}, failed {o['error'] + o['timeout']:,})  TTFT p50 "
            f"{_ms(figs['ttft_ms']['p50'])}  gap p99 {_ms(figs['gap_ms']['p99'])}")
