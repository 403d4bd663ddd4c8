"""``concurrency``: several streams at once, each with its own text; each must arrive
progressively and carry exactly its own answer (no cross-talk through shared state).

Each stream gets a distinct scenario: the simulator's default is switched after the endpoint's
upstream request for the previous stream has arrived, so the team's app needs no change.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..context import CheckContext, Expected
from ..http_client import Stream
from ..model import CheckResult, Timeline
from .base import check


def _spec(k: int) -> dict[str, Any]:
    return {"name": f"concurrency-{k}", "tokenize": "words",
            "response": {"text": f"Stream {k} says: " + " ".join(
                f"{word}-{k}" for word in ("alpha", "bravo", "charlie", "delta", "echo",
                                           "foxtrot", "golf", "hotel", "india", "juliet",
                                           "kilo", "lima", "mike", "november", "oscar",
                                           "papa", "quebec", "romeo", "sierra", "tango",
                                           "uniform", "victor"))},
            "timing": {"ttft_ms": 100, "token_ms": 45}}


def _whose(text: str, expected: list[Expected]) -> str:
    owners = sorted({f"#{k + 1}" for k, e in enumerate(expected)
                     for word in text.split() if word.endswith(f"-{k + 1}")
                     and word in e.text})
    return ", ".join(owners) or "no stream"


@check("concurrency", "Concurrent streams", order=90,
       summary="N parallel streams, each progressive, each with exactly its own text")
async def run(ctx: CheckContext) -> CheckResult:
    n = ctx.settings.concurrency
    expected: list[Expected] = []
    streams: list[Stream] = []
    records = []
    try:
        for k in range(1, n + 1):
            exp = ctx.use(_spec(k))
            stream = await ctx.open()
            rec = await ctx.upstream(stream, exp.scenario)
            expected.append(exp)
            streams.append(stream)
            records.append(rec)
        last_due = max(e.tokens[-1][0] for e in expected)
        await asyncio.gather(*(s.finished(last_due + 8.0) for s in streams))
    finally:
        for s in streams:
            await s.disconnect()
    problems: list[str] = []
    lumpy: list[tuple[int, int, int, float]] = []
    per_stream = []
    t0 = streams[0].trace.started
    timeline = Timeline(f"{n} concurrent streams")
    for k, (exp, stream) in enumerate(zip(expected, streams), start=1):
        trace = stream.trace
        arrivals = len(trace.text_arrivals)
        ratio = arrivals / exp.count
        per_stream.append({"stream": k, "relay_ratio": round(ratio, 3),
                           "text_matches": trace.text == exp.text,
                           "client_tokens": exp.tokens_in(len(trace.text))})
        if trace.text != exp.text:
            owners = _whose(trace.text, expected)
            if owners not in ("", f"#{k}"):
                problems.append(f"stream #{k} received text of {owners}: cross-talk")
            else:
                problems.append(f"stream #{k} text differs: got {trace.text[:60]!r}")
        if ratio < ctx.settings.relay_ratio:
            lumpy.append((k, arrivals, exp.count, ratio))
        sub = ctx.timeline("", stream, [records[k - 1]], lane=f"#{k}")
        shift = trace.started - t0
        for lane in sub.lanes:
            lane.points = [(round(t + shift, 4), b) for t, b in lane.points]
            timeline.lanes.append(lane)
        for marker in sub.markers:
            if marker.kind != "upstream-end":
                marker.at = round(marker.at + shift, 4)
                timeline.markers.append(marker)
    if lumpy:
        which = ", ".join(f"#{k}" for k, *_ in lumpy)
        worst = min(lumpy, key=lambda x: x[3])
        problems.append(f"stream{'s' * (len(lumpy) > 1)} {which} not progressive (worst: "
                        f"{worst[1]} arrival{'s' * (worst[1] != 1)} for {worst[2]} tokens, "
                        f"relay ratio {worst[3]:.2f})")
    starts = [s.trace.started - t0 for s in streams]
    measurements = {"streams": n, "start_spread_ms": round(max(starts) * 1000, 1),
                    "per_stream": per_stream}
    if problems:
        return ctx.result("fail", "; ".join(problems), measurements, problems, [timeline])
    worst = min(p["relay_ratio"] for p in per_stream)
    return ctx.result("pass", f"{n} streams overlapping, each exact and progressive (lowest "
                              f"relay ratio {worst:.2f})", measurements, [], [timeline])
