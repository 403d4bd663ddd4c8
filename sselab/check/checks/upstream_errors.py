"""``upstream-errors``: the provider refuses before streaming (429 with retry-after, 500, 529);
the endpoint answers quickly with an error status or an error event, not a 200 that never ends
or that ends empty as if the model had nothing to say.
"""

from __future__ import annotations

from typing import Any

from ..context import CheckContext, describe_end, ms
from ..model import CheckResult, Timeline
from .base import check

CASES = [
    {"name": "http-429", "response": {"text": "never sent"},
     "faults": [{"type": "http_error", "status": 429, "retry_after": 1}]},
    {"name": "http-500", "response": {"text": "never sent"},
     "faults": [{"type": "http_error", "status": 500}]},
    {"name": "http-529", "response": {"text": "never sent"},
     "faults": [{"type": "http_error", "status": 529}]},
]


@check("upstream-errors", "Upstream HTTP errors", order=80,
       summary="upstream 429/500/529: an error status or error event, quickly")
async def run(ctx: CheckContext) -> CheckResult:
    bound = ctx.settings.http_error_bound
    problems, oks = [], []
    timelines: list[Timeline] = []
    measurements: dict[str, Any] = {}
    for spec in CASES:
        expected = ctx.use(spec)
        status = spec["faults"][0]["status"]
        stream = await ctx.open()
        await stream.finished(bound)
        trace = stream.trace
        records = ctx.records(trace.started, expected.scenario)
        if not records:
            return ctx.no_upstream(stream)
        error_at = next((a.at for a in trace.arrivals if a.error), None)
        answered = trace.ended if trace.end in ("complete", "truncated") else None
        told = error_at or (answered if trace.status and trace.status >= 400 else None)
        elapsed = None if told is None else told - trace.started
        measurements[f"upstream_{status}"] = {
            "status": trace.status, "elapsed_ms": ms(elapsed), "upstream_attempts": len(records),
            "ended_with": describe_end(stream), "error_message": (trace.errors or [None])[-1]}
        timelines.append(ctx.timeline(f"upstream HTTP {status}", stream, records,
                                      [(told, "client told", "error")]))
        retries = f" after {len(records)} upstream attempts" if len(records) > 1 else ""
        if trace.status is None:
            problems.append(f"{status}: {trace.failure or 'no response'}")
        elif told is not None and elapsed is not None and elapsed <= bound:
            how = f"HTTP {trace.status}" if trace.status >= 400 else "an error event"
            oks.append(f"{status} → {how} in {elapsed * 1000:.0f} ms{retries}")
        elif elapsed is not None:
            problems.append(f"{status}: the error reached the client only after {elapsed:.2f} "
                            f"s (bound {bound:g} s){retries}")
        elif trace.end == "truncated" and answered is not None:
            oks.append(f"{status} → the body cut short in "
                       f"{(answered - trace.started) * 1000:.0f} ms{retries}")
        elif trace.end in ("timeout", None):
            problems.append(f"{status}: HTTP {trace.status} and no error within {bound:g} s"
                            f"{retries}: the user waits forever")
        else:
            problems.append(f"{status}: HTTP {trace.status} ending with {describe_end(stream)} "
                            f"and no error indication{retries}: the failure looks like an "
                            "empty answer")
    if problems:
        return ctx.result("fail", "; ".join(problems), measurements, problems + oks, timelines)
    return ctx.result("pass", "; ".join(oks), measurements, oks, timelines)
