"""The figures of ``sselab load``: histograms, one stream's classification and gaps, and the
mergeable total (what workers send their master); no Locust involved."""

from __future__ import annotations

import random

import pytest

from sselab.check.http_client import Arrival, Trace
from sselab.load import Aggregate, Hist, StreamResult
from sselab.load.hist import bucket
from sselab.load.stats import wall


def test_buckets_keep_two_significant_digits() -> None:
    assert [bucket(v) / 10 for v in (0.04, 4.36, 43.6, 436.0, 4360.0, 43600.0)] == [
        0.0, 4.4, 44.0, 440.0, 4400.0, 44000.0]
    for v in (0.5, 7.7, 77.7, 777.7, 7777.7):
        assert abs(bucket(v) / 10 - v) <= v * 0.05 + 0.05


def test_percentiles_of_a_histogram_match_the_sorted_values() -> None:
    rng = random.Random(1)
    values = [rng.uniform(10, 90) for _ in range(2000)]
    h = Hist()
    for v in values:
        h.add(v)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[int(q * len(ordered)) - 1]
        assert abs(h.percentile(q) - exact) <= 1.0  # one 1 ms bucket
    assert h.count == 2000 and Hist().percentile(0.5) is None


def test_histograms_merge_and_cross_the_wire() -> None:
    a, b = Hist(), Hist()
    for v in (1, 2, 3):
        a.add(v)
    b.add(3, n=5)
    a.merge(b)
    assert a.count == 8 and a.percentile(0.5) == 3.0
    again = Hist.from_wire(a.to_wire())
    assert again.counts == a.counts


def _trace(*, status: int | None = 200, end: str | None = "complete",
           arrivals: list[tuple[float, str]] = (), errors: list[str] = ()) -> Trace:
    t = Trace("http://x/", started=100.0, status=status, end=end, ended=103.0)
    for at, text in arrivals:
        t.arrivals.append(Arrival(at, len(text), text))
        t.text += text
    t.errors = list(errors)
    return t


@pytest.mark.parametrize("kwargs,outcome,error", [
    ({"arrivals": [(100.2, "a")]}, "complete", None),
    ({"status": 500, "arrivals": []}, "error", "HTTP 500"),
    ({"errors": ["boom"], "arrivals": [(100.2, "a")]}, "error", "error event: boom"),
    ({"end": "timeout", "arrivals": [(100.2, "a")]}, "timeout", "no end within"),
    ({"end": "truncated", "arrivals": [(100.2, "a")]}, "error", "mid-body"),
    ({"status": None, "end": "connect_error"}, "error", "no response"),
    ({"arrivals": []}, "error", "no answer text"),
])
def test_outcomes(kwargs: dict, outcome: str, error: str | None) -> None:
    r = StreamResult.from_trace(_trace(**kwargs), [1] * len(kwargs.get("arrivals", [])))
    assert r.outcome == outcome
    assert (r.error is None) if error is None else error in (r.error or "")


def test_aborted_and_cut() -> None:
    t = _trace(end="client_closed", arrivals=[(100.2, "a")])
    assert StreamResult.from_trace(t, [1], aborted=True).outcome == "aborted"
    assert StreamResult.from_trace(t, [1], cut=True).outcome == "cut"
    assert StreamResult.from_trace(t, [1]).outcome == "complete"  # text ended by the body


def test_token_gaps_are_zero_inside_a_lump() -> None:
    t = _trace(arrivals=[(100.2, "ab"), (100.25, "c"), (101.25, "defg")])
    r = StreamResult.from_trace(t, [2, 1, 4])
    assert r.ttft == pytest.approx(0.2)
    assert r.tokens == 7
    assert [round(g, 3) for g in r.gaps] == [0.0, 0.05, 1.0, 0.0, 0.0, 0.0]
    assert [round(g, 3) for g in r.arrival_gaps] == [0.05, 1.0]
    assert r.tokens_per_s == pytest.approx(5 / 1.05)


def test_one_lump_has_no_rate_and_zero_gaps() -> None:
    r = StreamResult.from_trace(_trace(arrivals=[(103.0, "x" * 69)]), [69])
    assert r.gaps == [0.0] * 68 and r.arrival_gaps == [] and r.tokens_per_s is None
    assert r.ttft == pytest.approx(3.0)


def _results(n: int, seed: int) -> list[StreamResult]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        start = 1000.0 + i * 0.3
        arrivals = [(start + 0.2 + k * rng.uniform(0.03, 0.06), "w ") for k in range(20)]
        arrivals.sort()
        outcome = rng.choice(["complete", "complete", "timeout"])
        t = _trace(arrivals=arrivals, end="complete" if outcome == "complete" else "timeout")
        t.started = start
        t.ended = arrivals[-1][0]
        out.append(StreamResult.from_trace(t, [1] * 20))
    return out


def test_merging_per_worker_totals_equals_one_total_over_all_streams() -> None:
    streams = _results(60, 2)
    whole, a, b = Aggregate(), Aggregate(), Aggregate()
    for i, r in enumerate(streams):
        whole.add(r, "one")
        (a if i % 2 else b).add(r, "w1" if i % 2 else "w2")
    merged = Aggregate.from_wire(a.to_wire())
    merged.merge(Aggregate.from_wire(b.to_wire()))
    assert merged.streams == whole.streams == 60
    assert merged.sources == {"w1": 30, "w2": 30}
    assert merged.outcomes == whole.outcomes
    assert merged.gap.counts == whole.gap.counts and merged.ttft.counts == whole.ttft.counts
    assert merged.figures()["gap_ms"] == whole.figures()["gap_ms"]
    assert sum(h["gap"].count for h in merged.bins.values()) == whole.gap.count == 60 * 19


def test_error_kinds_are_capped() -> None:
    agg = Aggregate()
    for i in range(50):
        r = StreamResult.from_trace(_trace(status=500 + i, arrivals=[]), [])
        agg.add(r)
    assert len(agg.errors) == 21 and agg.errors["other errors"] == 30


def test_wall_clock() -> None:
    import time

    assert abs(wall(time.monotonic()) - time.time()) < 1.0
