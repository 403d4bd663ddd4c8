"""Reports from a hand-made run (no network): JUnit XML validated by junitparser, the HTML is
self-contained with one SVG timeline per timeline, JSON round-trips, the table wraps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from sselab.check import CheckResult, Lane, Marker, Report, Timeline, table, to_html, to_xml
from sselab.check.context import _thin
from sselab.timeline import Span, render


def timeline() -> Timeline:
    return Timeline("buffered relay", [
        Lane("upstream", "upstream", [(0.1 + i * 0.04, 300) for i in range(40)]),
        Lane("client", "client", [(1.7, 12000)])],
        [Marker(0.9, "client left", "disconnect"), Marker(1.7, "upstream completed",
                                                          "upstream-end")])


@pytest.fixture
def report() -> Report:
    results = [
        CheckResult("headers", "Streaming headers", "pass", "all good", {"status": 200}),
        CheckResult("progressive", "Progressive delivery", "fail", "1 arrival for 40 tokens",
                    {"relay_ratio": 0.025}, ["detail <one> & two"], [timeline()], 1.8),
        CheckResult("stall", "Upstream stall", "warn", "ended as if complete"),
        CheckResult("abort", "Abort propagation", "error", "cannot connect"),
        CheckResult("split-chunks", "Split chunks", "skip", "not selected"),
    ]
    return Report("http://127.0.0.1:8000/api/chat", "http://127.0.0.1:8787", results,
                  shape="sse-json:text", started_at=1_700_000_000.0, duration=4.2)


def test_junit_validates_as_junit(report: Report, tmp_path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(to_xml(report), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 1, 1)
    cases = {case.name: case for case in suite}
    assert list(cases) == ["headers", "progressive", "stall", "abort", "split-chunks"]
    assert cases["headers"].is_passed and cases["stall"].is_passed
    assert isinstance(cases["progressive"].result[0], Failure)
    assert cases["progressive"].result[0].message == "1 arrival for 40 tokens"
    assert isinstance(cases["abort"].result[0], Error)
    assert isinstance(cases["split-chunks"].result[0], Skipped)
    assert "WARN" in cases["stall"].system_out
    assert cases["progressive"].classname == "sselab.check"


def test_html_is_self_contained(report: Report) -> None:
    html = to_html(report)
    assert html.count("<svg") == 1
    assert "detail &lt;one&gt; &amp; two" in html
    external = re.findall(r'(?:src|href)="(?!#)[^"]*"', html)
    assert external == []
    assert "<script" not in html
    assert "Failed: progressive, abort" in html


def test_json_round_trips(report: Report) -> None:
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is False
    assert data["counts"] == {"pass": 1, "warn": 1, "skip": 1, "fail": 1, "error": 1}
    assert data["checks"][1]["timelines"][0]["lanes"][1]["points"] == [[1.7, 12000]]


def test_table_wraps_long_messages(report: Report) -> None:
    report.results[0].message = "word " * 60
    text = table(report, width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "\nFAILED: 1 pass, 1 warn, 1 skip, 1 fail, 1 error in 4.2 s" in text


def test_svg_picture_shows_lanes_ticks_and_markers() -> None:
    svg = render(timeline())
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("M") >= 41  # one tick per upstream write and client read
    assert "client left (900 ms)" in svg and "40 writes, 12,000 B" in svg


def test_thinning_keeps_bytes_and_order() -> None:
    points = [(i / 10000, 2) for i in range(20000)]
    thin = _thin(points, limit=100)
    assert len(thin) <= 100
    assert sum(n for _, n in thin) == 40000
    assert [t for t, _ in thin] == sorted(t for t, _ in thin)


def test_svg_draws_spans_and_keepalive_lanes() -> None:
    tl = Timeline("stalled request", [
        Lane("writes", "upstream", [(0.1 + i * 0.02, 40) for i in range(10)]),
        Lane("keep-alives", "keepalive", [(1.3 + i, 3) for i in range(3)])],
        [Marker(3.5, "client left", "disconnect")], [Span(0.3, 3.5, "stall", "stall")])
    assert tl.span == 3.5
    svg = render(tl)
    assert '<g class="span stall">' in svg and "stall (3.2 s)" in svg
    assert "3 keep-alives, 9 B" in svg and 'class="ticks keepalive"' in svg
    band = re.search(r'<g class="span stall"><rect x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)
    assert band is not None
    assert float(band.group(2)) > 500  # 3.2 s of a ~3.6 s axis on a 754 px plot


def test_check_report_and_lab_share_one_drawing() -> None:
    from sselab.check import report_html
    from sselab.timeline import svg

    assert report_html.timeline_svg is svg
    assert not (Path(report_html.__file__).parent / "timeline_svg.py").exists()
