"""``headers``: the response headers that keep proxies, CDNs and browsers from holding a stream.

``Content-Type: text/event-stream`` (``text/plain`` and NDJSON stream too, but some CDNs compress
or buffer them: a warning), ``Cache-Control`` with ``no-cache`` or ``no-store``,
``X-Accel-Buffering: no`` (nginx and many ingresses buffer without it), no ``Content-Encoding``
(compression holds bytes until a block fills; sselab's client offers ``gzip, deflate`` as a
browser does) and no ``Content-Length`` (a known length means the body was not streamed).
"""

from __future__ import annotations

from ..context import CheckContext
from ..model import CheckResult
from .base import check

SCENARIO = {"name": "headers", "response": {"text": "Checking the headers of this stream."},
            "tokenize": "words", "timing": {"ttft_ms": 20, "token_ms": 10}}
STREAMING_TYPES = ("text/event-stream",)
ALSO_STREAMING = ("text/plain", "application/x-ndjson", "application/jsonl",
                  "application/stream+json")


@check("headers", "Streaming headers", order=10,
       summary="text/event-stream, no caching, X-Accel-Buffering: no, no compression, "
               "no Content-Length")
async def run(ctx: CheckContext) -> CheckResult:
    ctx.use(SCENARIO)
    stream = await ctx.open()
    await stream.finished(5.0)
    trace = stream.trace
    if trace.status is None:
        return ctx.result("error", trace.failure or "no response from the endpoint")
    fails: list[str] = []
    warns: list[str] = []
    ctype = trace.content_type
    if trace.status != 200:
        fails.append(f"status {trace.status} (expected 200)")
    if ctype in ALSO_STREAMING:
        warns.append(f"Content-Type {ctype}: streams, but some CDNs and proxies compress or "
                     "buffer it; text/event-stream is the safe choice")
    elif ctype not in STREAMING_TYPES:
        fails.append(f"Content-Type {ctype or '(none)'} is not a streaming type "
                     "(expected text/event-stream)")
    cache = (trace.header("cache-control") or "").lower()
    if "no-cache" not in cache and "no-store" not in cache:
        fails.append(f"Cache-Control {cache or '(none)'}: expected no-cache (or no-store), or "
                     "a cache may hold the stream")
    accel = (trace.header("x-accel-buffering") or "").lower()
    if accel != "no":
        fails.append(f"X-Accel-Buffering {accel or '(none)'}: expected 'no', or nginx-style "
                     "proxies buffer the whole answer")
    encoding = (trace.header("content-encoding") or "identity").lower()
    if encoding != "identity":
        fails.append(f"Content-Encoding {encoding}: compression holds bytes back until a block "
                     "fills (the client offered gzip, deflate like a browser)")
    length = trace.header("content-length")
    if length is not None:
        fails.append(f"Content-Length {length}: a known length means the body was complete "
                     "before it was sent")
    measurements = {
        "status": trace.status, "content_type": trace.header("content-type"),
        "cache_control": trace.header("cache-control"),
        "x_accel_buffering": trace.header("x-accel-buffering"),
        "content_encoding": trace.header("content-encoding"),
        "content_length": length, "transfer_encoding": trace.header("transfer-encoding"),
    }
    details = [f"{k}: {v}" for k, v in trace.headers]
    timeline = ctx.timeline("headers request", stream, ctx.records(trace.started))
    if fails:
        return ctx.result("fail", "; ".join(fails), measurements, fails + warns + details,
                          [timeline])
    if warns:
        return ctx.result("warn", "; ".join(warns), measurements, warns + details, [timeline])
    return ctx.result("pass", f"{ctype}, Cache-Control {cache}, X-Accel-Buffering: no, "
                              "not compressed, no Content-Length", measurements, details,
                      [timeline])
