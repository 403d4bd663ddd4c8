"""``abort``: when the user leaves, the endpoint stops its provider call (and its bill).

Twice: the client disconnects mid-stream (after a few tokens) and mid-stall (the upstream is
silent, so an endpoint that only notices a dead client when a write fails never notices). The
simulator sees when the endpoint closes its upstream request; the check reports that delay and
the upstream writes the endpoint kept paying for after the client left.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..context import CheckContext, Expected, describe_end, ms
from ..model import CheckResult, Timeline
from .base import check

MID_STREAM = {"name": "abort-stream", "response": {"faker": {"seed": 31, "words": 80}},
              "tokenize": "words", "timing": {"ttft_ms": 100, "token_ms": 25}}
MID_STALL = {"name": "abort-stall", "response": {"faker": {"seed": 32, "words": 40}},
             "tokenize": "words", "timing": {"ttft_ms": 100, "token_ms": 25},
             "faults": [{"type": "stall", "at_token": 5, "forever": True}]}
LEAVE_AFTER = 5  # tokens received before the client leaves
LEAVE_BY = 1.0  # s: leave by then even without those tokens (an endpoint that buffers)
STALL_PAUSE = 0.3  # s into the upstream's stall before the client leaves


async def _one(ctx: CheckContext, expected: Expected, label: str, stalled: bool,
               ) -> CheckResult | tuple[str | None, dict[str, Any], Timeline, str]:
    """(problem or None, measurements, timeline, summary) for one disconnect; a result when
    the endpoint made no upstream call."""
    stream = await ctx.open()
    rec = await ctx.upstream(stream, expected.scenario)
    want = len(expected.text_of(LEAVE_AFTER))
    if stalled:  # leave once the upstream has gone quiet, whatever the client has seen
        due = rec.received + expected.tokens[LEAVE_AFTER - 1][0] - 0.0005
        await ctx.until(lambda: any(t - late >= due for t, _, _, late in rec.writes), 5.0)
        await asyncio.sleep(STALL_PAUSE)
        got = len(stream.trace.text) >= want
    else:
        got = await stream.wait(lambda t: len(t.text) >= want, LEAVE_BY)
    await stream.disconnect()
    left = stream.trace.closed_at
    title = f"abort {label}: client leaves, upstream should close"
    if left is None:  # the response was over before the client could leave
        await ctx.until(lambda: rec.done, ctx.settings.abort_bound)
        timeline = ctx.timeline(title, stream, [rec])
        end = describe_end(stream)
        if rec.done:
            return None, {}, timeline, f"{label}: the response ended ({end}) before the " \
                                       "client left; nothing to abort"
        return (f"{label}: the response ended ({end}) but the endpoint left its upstream "
                "call open"), {}, timeline, ""
    bound = ctx.settings.abort_bound
    remaining = max(0.0, rec.received + expected.tokens[-1][0] - left)
    await ctx.until(lambda: rec.done, max(bound, min(remaining, 5.0)) + 1.0)
    timeline = ctx.timeline(title, stream, [rec])
    after = [(t, n) for t, n, _, _ in rec.writes if t > left]
    closed = rec.done and rec.outcome == "client_disconnected"
    delay = (rec.ended - left) if closed and rec.ended is not None else None
    m = {f"{label}_abort_delay_ms": ms(delay),
         f"{label}_upstream_writes_after_leaving": len(after),
         f"{label}_upstream_bytes_after_leaving": sum(n for _, n in after),
         f"{label}_upstream_outcome": rec.outcome}
    note = "" if got else " (no text had arrived; it left anyway)"
    if delay is not None and delay <= bound:
        return None, m, timeline, f"{label}: upstream closed {delay * 1000:.0f} ms after the " \
                                  f"client left{note}"
    kept = f"the upstream sent {len(after)} more events ({sum(n for _, n in after)} bytes)"
    if delay is not None:
        problem = f"{label}: upstream closed only {delay:.2f} s after the client left " \
                  f"(bound {bound:g} s); {kept}"
    elif rec.done:
        problem = f"{label}: the endpoint never closed its upstream call; it ran to the end " \
                  f"({rec.outcome.replace('_', ' ')}) and {kept} after the client left"
    else:
        waited = time.monotonic() - left
        problem = f"{label}: upstream call still open {waited:.1f} s after the client left " \
                  f"(bound {bound:g} s); {kept} so far"
    return problem + note, m, timeline, ""


@check("abort", "Abort propagation", order=30,
       summary="the client leaves mid-stream and mid-stall; the upstream call closes "
               "within a bound")
async def run(ctx: CheckContext) -> CheckResult:
    measurements: dict[str, Any] = {}
    problems, oks, timelines = [], [], []
    for spec, label, stalled in ((MID_STREAM, "mid-stream", False),
                                 (MID_STALL, "mid-stall", True)):
        expected = ctx.use(spec)
        outcome = await _one(ctx, expected, label, stalled)
        if isinstance(outcome, CheckResult):
            return outcome
        problem, m, timeline, ok = outcome
        measurements.update(m)
        timelines.append(timeline)
        if problem:
            problems.append(problem)
        else:
            oks.append(ok)
    if problems:
        return ctx.result("fail", "; ".join(problems), measurements, problems + oks, timelines)
    return ctx.result("pass", "; ".join(oks), measurements, oks, timelines)
