"""``progressive``: the answer reaches the user token by token, as the upstream sends it.

Two measurements: the first-token lag (from the upstream writing its first token to the client
reading the first answer text) and the relay ratio (client reads that carried text / tokens the
upstream sent: near 1 for a relay, near 0 when a buffer collects the answer into a few lumps).
"""

from __future__ import annotations

from ...server.recorder import RequestRecord
from ..context import CheckContext, Expected, ms
from ..model import CheckResult
from .base import check

SCENARIO = {"name": "progressive", "response": {"faker": {"seed": 21, "words": 36}},
            "tokenize": "words", "timing": {"ttft_ms": 150, "token_ms": 40}}


def first_token_write(rec: RequestRecord, expected: Expected) -> float | None:
    """When the upstream wrote its first token (monotonic): the first write due at or after
    the first token's due time."""
    due = rec.received + expected.tokens[0][0] - 0.0005
    return next((t for t, _, _, late in rec.writes if t - late >= due), None)


@check("progressive", "Progressive delivery", order=20,
       summary="first byte soon after the upstream's first token; one arrival per token, "
               "not one lump")
async def run(ctx: CheckContext) -> CheckResult:
    expected = ctx.use(SCENARIO)
    stream = await ctx.open()
    rec = await ctx.upstream(stream, expected.scenario)
    duration = expected.tokens[-1][0]
    await stream.finished(duration + 5.0)
    trace = stream.trace
    up_first = first_token_write(rec, expected)
    client_first = trace.first_text_at
    arrivals = len(trace.text_arrivals)
    ratio = arrivals / expected.count
    lag = None if up_first is None or client_first is None else client_first - up_first
    text_span = [a.at for a in trace.text_arrivals]
    measurements = {
        "upstream_tokens": expected.count, "client_text_arrivals": arrivals,
        "relay_ratio": round(ratio, 3), "first_token_lag_ms": ms(lag),
        "client_spread_ms": ms(text_span[-1] - text_span[0]) if text_span else None,
        "upstream_spread_ms": ms(duration - expected.tokens[0][0]),
        "text_matches": trace.text == expected.text,
    }
    markers = [(up_first, "upstream first token", "info"),
               (client_first, "client first text", "info")]
    timeline = ctx.timeline("progressive: upstream tokens vs client arrivals", stream,
                            ctx.records(trace.started, expected.scenario), markers)
    bound = ctx.settings.first_token_bound
    problems = []
    if client_first is None:
        problems.append(f"the client received no answer text (ended with {trace.end})")
    else:
        if lag is not None and lag > bound:
            problems.append(f"the first token reached the client {lag * 1000:.0f} ms after the "
                            f"upstream sent it (bound {bound * 1000:.0f} ms)")
        if ratio < ctx.settings.relay_ratio:
            problems.append(f"{arrivals} arrival{'s' * (arrivals != 1)} for "
                            f"{expected.count} upstream tokens (relay ratio {ratio:.2f} < "
                            f"{ctx.settings.relay_ratio:g}): the answer is buffered into lumps")
    if problems:
        return ctx.result("fail", "; ".join(problems), measurements, problems, [timeline])
    lag_text = "?" if lag is None else f"{lag * 1000:.0f} ms"
    message = (f"first token {lag_text} after the upstream's; {arrivals} arrivals for "
               f"{expected.count} tokens (ratio {ratio:.2f})")
    if trace.text != expected.text:
        return ctx.result("warn", message + "; but the text differs from what the upstream sent",
                          measurements, [f"received {trace.text[:200]!r}"], [timeline])
    return ctx.result("pass", message, measurements, [], [timeline])
