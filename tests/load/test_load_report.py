"""The load summary: the terminal table, JSON (with percentiles over time) and the HTML
report's pictures, and the plain sentences about what the figures show."""

from __future__ import annotations

import json
import re

from sselab.check.http_client import Arrival, Trace
from sselab.load import Aggregate, LoadReport, StreamResult
from sselab.load.report import over_time, table
from sselab.load.report_html import to_html
from sselab.load.upstream import upstream_view


def stream(start: float, reads: list[tuple[float, int]], *, end: str = "complete",
           aborted: bool = False) -> StreamResult:
    """A stream that started at monotonic ``start`` and read (seconds after it, tokens)."""
    t = Trace("http://x/", started=start, status=200, end=end)
    per = []
    for at, n in reads:
        t.arrivals.append(Arrival(start + at, n * 3, "ab " * n))
        t.text += "ab " * n
        per.append(n)
    t.ended = start + (reads[-1][0] if reads else 0.1) + 0.01
    return StreamResult.from_trace(t, per, aborted=aborted)


def relay(n: int = 40) -> Aggregate:
    agg = Aggregate()
    for i in range(n):
        agg.add(stream(1000.0 + i * 0.5, [(0.2 + k * 0.045, 1) for k in range(30)]))
    return agg


def buffered(n: int = 40) -> Aggregate:
    agg = Aggregate()
    for i in range(n):
        agg.add(stream(1000.0 + i * 0.5, [(1.5, 30)]))
    return agg


def view(records: int, early: int = 0) -> dict:
    recs = [{"outcome": "completed", "drain_wait_ms": 0} for _ in range(records - early)]
    recs += [{"outcome": "client_disconnected", "drain_wait_ms": 0,
              "client_disconnected_at": 1.0} for _ in range(early)]
    return upstream_view(recs, None, "http://127.0.0.1:8787")


def test_the_table_has_percentiles_and_the_upstream_view() -> None:
    report = LoadReport("http://app/api/chat", relay(), users=10, spawn_rate=5, duration=21.0,
                        load_time=20.0, upstream=view(40), scenario="long-answer")
    text = table(report)
    assert "10 users (spawn 5/s), 20.0 s (+ 1.0 s for streams in flight to finish)" in text
    ttft = next(line for line in text.splitlines() if line.strip().startswith("TTFT"))
    assert re.search(r"200 ms\s+200 ms\s+200 ms\s+200 ms\s+40$", ttft)
    gap = next(line for line in text.splitlines() if "inter-token gap" in line)
    assert "45 ms" in gap or "44 ms" in gap
    assert "opened 40 streams: 40 completed, 0 closed early by the endpoint" in text
    assert "streams: 40 — 40 complete" in text and "!" not in text  # nothing to point out


def test_lumps_are_pointed_out() -> None:
    report = LoadReport("http://app/", buffered(), upstream=view(40))
    figs = report.to_json()["client"]
    assert figs["tokens_per_arrival"]["overall"] == 30.0 and figs["gap_ms"]["p99"] == 0.0
    found = " ".join(report.findings())
    assert "lumps: 30 tokens per arrival" in found and "buffered" in found


def test_an_endpoint_that_never_called_the_simulator() -> None:
    found = LoadReport("http://app/", relay(3), upstream=view(0)).findings()
    assert any("never called the simulator at http://127.0.0.1:8787" in f for f in found)


def test_drops_the_endpoint_did_not_pass_on() -> None:
    agg = relay(10)
    for i in range(10):
        agg.add(stream(2000.0 + i, [(0.2, 1), (0.25, 1)], end="client_closed", aborted=True))
    kept = LoadReport("http://app/", agg, upstream=view(20, early=0)).findings()
    passed = LoadReport("http://app/", agg, upstream=view(20, early=10)).findings()
    assert any("keeps reading" in f for f in kept)
    assert not any("keeps reading" in f for f in passed)


def test_workers_totals_are_compared() -> None:
    agg = relay(10)
    agree = LoadReport("http://app/", agg, workers={"a": 4, "b": 6}).findings()
    differ = LoadReport("http://app/", agg, workers={"a": 4, "b": 5}).findings()
    assert any("(4, 6) equal the master's 10" in f for f in agree)
    assert any("DIFFER" in f for f in differ)


def test_percentiles_over_time() -> None:
    slices = over_time(relay(40))
    assert slices and all(s["width"] >= 1 for s in slices)
    assert sum(s["gap_ms"]["count"] for s in slices) == 40 * 29
    assert all(s["ttft_ms"]["p50"] == 200.0 for s in slices if s["ttft_ms"]["count"])


def test_json_and_html() -> None:
    report = LoadReport("http://app/<chat>", relay(), users=10, upstream=view(40),
                        locust={"TTFT": {"requests": 40, "failures": 0, "p50_ms": 200,
                                         "p99_ms": 200, "max_ms": 201.0}})
    data = json.loads(json.dumps(report.to_json()))
    assert data["client"]["streams"] == 40 and data["upstream"]["opened"] == 40
    assert data["over_time"] and data["locust"]["TTFT"]["requests"] == 40
    html = to_html(report)
    assert html.count("<svg") == 5 and "<script" not in html
    assert "TTFT over the run" in html and "Tokens per arrival" in html
    assert "http://app/&lt;chat&gt;" in html and "<chat>" not in html
    empty = to_html(LoadReport("http://app/", Aggregate(), upstream=None))
    assert "no values" in empty and "--no-upstream" in empty
