"""``resume``: a dropped connection comes back without losing or repeating a token.

Opt-in: it runs when the endpoint's events carry ids (SSE ``id:`` lines), or when asked with
``--only resume``; otherwise it skips. The client is cut mid-stream after a few tokens, waits
``resume_delay`` (the answer is still coming meanwhile), then reconnects as a browser does: the
same request again with ``Last-Event-ID`` set to the last id it has (EventSource does this by
itself on a GET; fetch clients such as ``@microsoft/fetch-event-source`` do it on a POST). The
text from before the cut and after the reconnect, joined, must be exactly the upstream's
answer, and the reconnect must end the answer properly. The check also says whether the
endpoint called its provider again (it regenerated the answer instead of resuming it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..context import CheckContext, Expected, _thin, describe_end, ms
from ..http_client import Stream
from ..model import CheckResult, Lane, Marker, Timeline
from .base import check

CUT_AFTER = 10  # tokens the client has before the cut
SCENARIO = {"name": "resume", "response": {"faker": {"seed": 51, "words": 70}},
            "tokenize": "words", "timing": {"ttft_ms": 100, "token_ms": 25}}


def _diagnose(before: str, after: str, expected: str) -> str:
    """What went wrong with ``before + after`` against ``expected``, in words."""
    if after and expected.startswith(after):
        return (f"the reconnect started the answer again: the {len(before)} characters from "
                "before the cut came twice")
    combined = before + after
    if expected.startswith(combined):
        return (f"{len(expected) - len(combined)} characters missing at the end: the "
                "reconnect stopped short")
    if after and expected.endswith(after):
        lost = len(expected) - len(combined)
        if lost > 0:
            return (f"{lost} characters lost between the cut and the reconnect (sent while "
                    "the client was away)")
        return f"{-lost} characters repeated around the cut"
    i = next((k for k, (a, b) in enumerate(zip(combined, expected, strict=False)) if a != b),
             min(len(combined), len(expected)))
    return (f"the joined text differs from the answer at character {i}: got "
            f"{combined[i:i + 40]!r}, expected {expected[i:i + 40]!r}")


def _timeline(ctx: CheckContext, first: Stream, second: Stream | None, records: list[Any],
              last_id: str | None) -> Timeline:
    tl = ctx.timeline("resume: client cut after 10 tokens, reconnects with Last-Event-ID",
                      first, records)
    t0 = first.trace.started
    if second is not None:
        tl.lanes.append(Lane("client (resumed)", "client",
                             _thin([(a.at - t0, a.nbytes) for a in second.trace.arrivals]),
                             len(second.trace.arrivals)))
        label = f"reconnect (Last-Event-ID: {last_id})" if last_id else "reconnect (no id)"
        tl.markers.append(Marker(round(second.trace.started - t0, 4), label, "info"))
    return tl


@check("resume", "Resume after a dropped connection", order=85,
       summary="cut mid-stream, reconnect with Last-Event-ID: the joined text is exact "
               "(opt-in: runs when events carry ids, or with --only resume)")
async def run(ctx: CheckContext) -> CheckResult:
    expected: Expected = ctx.use(SCENARIO)
    first = await ctx.open()
    rec = await ctx.upstream(first, expected.scenario)
    want = len(expected.text_of(CUT_AFTER))
    await first.wait(lambda t: len(t.text) >= want, expected.tokens[CUT_AFTER][0] + 3.0)
    trace = first.trace
    if trace.end is not None:  # over before the cut: nothing to resume
        await ctx.until(lambda: rec.done, 5.0)
        return ctx.result("skip", f"the stream ended ({describe_end(first)}) before the client "
                                  f"had {CUT_AFTER} tokens; nothing to resume",
                          timelines=[_timeline(ctx, first, None, [rec], None)])
    await first.disconnect()
    before, last_id = trace.text, trace.last_event_id
    if last_id is None and not ctx.asked:
        await ctx.until(lambda: rec.done, 5.0)
        return ctx.result("skip", "the endpoint's events carry no id (SSE `id:`), so a "
                                  "browser cannot resume them; run with --only resume to "
                                  "check a reconnect anyway")
    delay = ctx.settings.resume_delay
    await asyncio.sleep(delay)
    second = await ctx.open(headers=[("Last-Event-ID", last_id)] if last_id else [])
    remaining = max(0.0, rec.received + expected.tokens[-1][0] - second.trace.started)
    await second.finished(remaining + 5.0)
    after = second.trace.text
    records = ctx.records(trace.started, expected.scenario)
    generations = [r for r in records if r.resumes is None]  # not the provider's own resumes
    timeline = _timeline(ctx, first, second, records, last_id)
    first_text = second.trace.first_text_at
    m = {"cut_after_chars": len(before), "last_event_id": last_id,
         "reconnect_status": second.trace.status, "resumed_chars": len(after),
         "reconnect_first_text_ms": ms(None if first_text is None
                                       else first_text - second.trace.started),
         "upstream_calls": len(generations), "text_matches": before + after == expected.text,
         "reconnect_ended_with": describe_end(second)}
    problems = []
    if last_id is None:
        problems.append("the endpoint's events carry no id (SSE `id:`): a reconnecting "
                        "browser cannot say where it stopped")
    status = second.trace.status
    if status is None or status >= 300:
        problems.append(f"the reconnect with Last-Event-ID {last_id!r} got "
                        + (f"HTTP {status}" if status else describe_end(second)))
    elif before + after != expected.text:
        problems.append(_diagnose(before, after, expected.text))
    elif second.trace.end != "complete" or second.trace.errors:
        problems.append(f"the resumed stream ended with {describe_end(second)}")
    if len(generations) > 1:
        problems.append(f"the endpoint asked its provider {len(generations)} times: it "
                        "generated the answer again instead of resuming it")
    if problems:
        return ctx.result("fail", "; ".join(problems), m, problems, [timeline])
    return ctx.result("pass", f"cut after {len(before)} characters, reconnected with "
                              f"Last-Event-ID {last_id!r}: {len(after)} more characters, the "
                              "joined text exact, one upstream call", m, [], [timeline])
