"""``stall``: the upstream goes silent forever; the endpoint gives up (its idle timeout) and
tells the user, rather than leaving them in front of a spinner.

Reports the measured timeout. An endpoint that ends the stream without an error indication
gets a warning (the user sees a truncated answer as if complete); one that does nothing within
``stall_wait`` fails. Keep-alive comments do not count: they keep the connection alive, not the
answer.
"""

from __future__ import annotations

from ..context import CheckContext, describe_end, ms
from ..model import CheckResult
from .base import check

STALL_AFTER = 5
SCENARIO = {"name": "stall", "response": {"faker": {"seed": 51, "words": 30}},
            "tokenize": "words", "timing": {"ttft_ms": 100, "token_ms": 25},
            "faults": [{"type": "stall", "at_token": STALL_AFTER, "forever": True}]}


@check("stall", "Upstream stall", order=50,
       summary="the upstream stalls forever; the endpoint ends or signals within its idle "
               "timeout")
async def run(ctx: CheckContext) -> CheckResult:
    expected = ctx.use(SCENARIO)
    stream = await ctx.open()
    rec = await ctx.upstream(stream, expected.scenario)
    stall_due = rec.received + expected.tokens[STALL_AFTER - 1][0]
    await ctx.until(lambda: bool(rec.writes) and rec.writes[-1][0] - rec.writes[-1][3]
                    >= stall_due - 0.0005, 5.0)
    stall_start = max(rec.writes[-1][0] if rec.writes else rec.received, stall_due)
    wait = ctx.settings.stall_wait
    keepalives_before = stream.trace.keepalives
    await stream.wait(lambda t: bool(t.errors) or t.end is not None,
                      stall_start + wait - stream.trace.started)
    trace = stream.trace
    error_at = next((a.at for a in trace.arrivals if a.error), None)
    ended = error_at if error_at is not None else trace.ended if trace.end in (
        "complete", "truncated") else None
    timeout = None if ended is None else ended - stall_start
    keepalives = trace.keepalives - keepalives_before
    measurements = {"measured_timeout_ms": ms(timeout), "waited_ms": ms(wait),
                    "keepalives_during_stall": keepalives, "ended_with": describe_end(stream),
                    "upstream_closed_by_endpoint": rec.outcome == "client_disconnected",
                    "client_tokens": expected.tokens_in(len(trace.text))}
    timeline = ctx.timeline("stall: the upstream goes silent after 5 tokens", stream,
                            ctx.records(trace.started, expected.scenario),
                            [(stall_start, "upstream stalls", "info"),
                             (ended, "endpoint gave up", "error")])
    if trace.end is None:
        await stream.disconnect("timeout")
    if timeout is not None and timeout < -0.05:
        return ctx.result("fail", f"the stream ended with {describe_end(stream)} before the "
                                  f"upstream stalled, after {measurements['client_tokens']} of "
                                  f"{STALL_AFTER} tokens", measurements, [], [timeline])
    if timeout is None:
        extra = f" (it sent {keepalives} keep-alives: the connection stays up, the answer " \
                "never resumes)" if keepalives else ""
        return ctx.result("fail", f"no idle timeout: after {wait:g} s of upstream silence the "
                                  f"endpoint had neither ended nor signalled an error{extra}",
                          measurements, [], [timeline])
    upstream_note = "" if rec.outcome == "client_disconnected" else \
        f"; its upstream call was left {rec.outcome.replace('_', ' ')}"
    if error_at is not None or trace.end == "truncated":
        return ctx.result("pass", f"the endpoint gave up after {timeout:.2f} s of silence with "
                                  f"{describe_end(stream)}{upstream_note}", measurements, [],
                          [timeline])
    return ctx.result("warn", f"the endpoint ended the stream after {timeout:.2f} s of silence "
                              "but as if complete: the user gets a truncated answer with no "
                              f"error{upstream_note}", measurements, [], [timeline])
