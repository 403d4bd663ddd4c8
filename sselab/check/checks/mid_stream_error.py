"""``mid-stream-error``: the provider fails after some tokens; the user keeps those tokens and
is told the answer failed, promptly, instead of a spinner forever or an answer that looks done.

An error indication is an error event, or the body cut short (the browser's reader rejects);
a normal end (with or without a ``done`` event) hides the failure.
"""

from __future__ import annotations

from ..context import CheckContext, describe_end, error_indicated, ms
from ..model import CheckResult
from .base import check

ERROR_AFTER = 12
SCENARIO = {"name": "mid-stream-error", "response": {"faker": {"seed": 41, "words": 40}},
            "tokenize": "words", "timing": {"ttft_ms": 100, "token_ms": 30},
            "faults": [{"type": "error_event", "at_token": ERROR_AFTER, "kind": "overloaded",
                        "message": "Overloaded"}]}


@check("mid-stream-error", "Mid-stream error", order=40,
       summary="tokens before an upstream error reach the client, then an error indication "
               "within a bound")
async def run(ctx: CheckContext) -> CheckResult:
    expected = ctx.use(SCENARIO)
    stream = await ctx.open()
    rec = await ctx.upstream(stream, expected.scenario)
    bound = ctx.settings.error_bound
    await ctx.until(lambda: rec.done, expected.tokens[-1][0] + 5.0)
    await stream.wait(lambda t: bool(t.errors) or t.end is not None, bound)
    trace = stream.trace
    error_at = next((a.at for a in trace.arrivals if a.error), None)
    signalled = error_at if error_at is not None else (
        trace.ended if trace.end == "truncated" else None)
    upstream_error = rec.ended
    lag = None if signalled is None or upstream_error is None else signalled - upstream_error
    before = expected.text_of(ERROR_AFTER)
    kept = trace.text == before
    measurements = {"tokens_before_error": ERROR_AFTER,
                    "client_tokens": expected.tokens_in(len(trace.text)),
                    "text_matches": kept, "error_indication_lag_ms": ms(lag),
                    "ended_with": describe_end(stream), "upstream_outcome": rec.outcome,
                    "client_error_message": trace.errors[-1] if trace.errors else None}
    timeline = ctx.timeline("mid-stream error: upstream fails after 12 tokens", stream,
                            ctx.records(trace.started, expected.scenario),
                            [(signalled, "client told", "error")])
    if trace.end is None:
        await stream.disconnect("timeout")
    problems = []
    if not kept:
        if before.startswith(trace.text):
            problems.append(f"only {len(trace.text)} of the {len(before)} characters sent "
                            "before the error reached the client")
        else:
            problems.append(f"the text before the error differs: got {trace.text[:80]!r}, "
                            f"expected {before[:80]!r}")
    if signalled is None:
        if trace.end in (None, "timeout", "client_closed"):
            problems.append(f"no error indication and no end within {bound:g} s of the "
                            "upstream error: the user waits forever")
        else:
            problems.append(f"the stream ended with {describe_end(stream)} and no error "
                            "indication: the failed answer looks complete")
    elif lag is not None and lag > bound:
        problems.append(f"the error reached the client {lag:.2f} s after the upstream's "
                        f"(bound {bound:g} s)")
    if problems:
        return ctx.result("fail", "; ".join(problems), measurements, problems, [timeline])
    how = "an error event" if error_at is not None else "the body cut short"
    assert error_indicated(stream)
    return ctx.result("pass", f"{ERROR_AFTER} tokens kept, then {how} "
                              f"{(lag or 0) * 1000:.0f} ms after the upstream error",
                      measurements, [], [timeline])
